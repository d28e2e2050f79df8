package pecmail

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/charset"
)

// xmlDaticert mirrors the DTD of daticert.xml (DM 2 novembre 2005, allegato). Elements the DTD adds later
// or a provider adds on its own are ignored by encoding/xml.
type xmlDaticert struct {
	XMLName      xml.Name `xml:"postacert"`
	Tipo         string   `xml:"tipo,attr"`
	Errore       string   `xml:"errore,attr"`
	Intestazione struct {
		Mittente    string `xml:"mittente"`
		Destinatari []struct {
			Tipo    string `xml:"tipo,attr"`
			Address string `xml:",chardata"`
		} `xml:"destinatari"`
		Oggetto string `xml:"oggetto"`
	} `xml:"intestazione"`
	Dati struct {
		GestoreEmittente string `xml:"gestore-emittente"`
		Data             struct {
			Zona   string `xml:"zona,attr"`
			Giorno string `xml:"giorno"`
			Ora    string `xml:"ora"`
		} `xml:"data"`
		Identificativo string `xml:"identificativo"`
		MsgID          string `xml:"msgid"`
		Ricevuta       *struct {
			Tipo string `xml:"tipo,attr"`
		} `xml:"ricevuta"`
		Consegna     string `xml:"consegna"`
		ErroreEsteso string `xml:"errore-esteso"`
	} `xml:"dati"`
}

// maxDaticert bounds the XML read: a real daticert is about 1 KB.
const maxDaticert = 1 << 20

// parseDaticert reads a daticert.xml; utf8 says data is UTF-8 whatever its XML declaration says. encoding/xml
// never fetches the DTD a DOCTYPE names nor expands external entities, so a hostile file cannot make it read anything.
func parseDaticert(data []byte, utf8 bool) (*Daticert, error) {
	if len(data) > maxDaticert {
		return nil, fmt.Errorf("daticert: %d bytes, more than %d", len(data), maxDaticert)
	}
	var x xmlDaticert
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if utf8 {
			return input, nil
		}
		return charset.Reader(label, input)
	}
	// Providers write &nbsp; and friends in free text now and then; undefined entities must not lose the file.
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("daticert: %w", err)
	}
	if x.XMLName.Local != "postacert" {
		return nil, errors.New("daticert: the root element is not postacert")
	}
	d := &Daticert{
		Tipo:             strings.TrimSpace(x.Tipo),
		Errore:           strings.TrimSpace(x.Errore),
		Mittente:         strings.TrimSpace(x.Intestazione.Mittente),
		Oggetto:          strings.TrimSpace(x.Intestazione.Oggetto),
		GestoreEmittente: strings.TrimSpace(x.Dati.GestoreEmittente),
		Identificativo:   strings.TrimSpace(x.Dati.Identificativo),
		MsgID:            strings.TrimSpace(x.Dati.MsgID),
		Consegna:         strings.TrimSpace(x.Dati.Consegna),
		ErroreEsteso:     strings.TrimSpace(x.Dati.ErroreEsteso),
	}
	for _, dest := range x.Intestazione.Destinatari {
		d.Destinatari = append(d.Destinatari, Destinatario{
			Address: strings.TrimSpace(dest.Address), Tipo: strings.TrimSpace(dest.Tipo)})
	}
	if x.Dati.Ricevuta != nil {
		d.Ricevuta = strings.TrimSpace(x.Dati.Ricevuta.Tipo)
	}
	d.Data = daticertTime(x.Dati.Data.Giorno, x.Dati.Data.Ora, x.Dati.Data.Zona)
	return d, nil
}

// daticertTime reads <giorno>dd/mm/yyyy</giorno><ora>hh:mm:ss</ora> in zone "+0100" (the DTD's form); a
// zone that cannot be read leaves the time in UTC rather than losing the date.
func daticertTime(giorno, ora, zona string) time.Time {
	giorno, ora, zona = strings.TrimSpace(giorno), strings.TrimSpace(ora), strings.TrimSpace(zona)
	if giorno == "" {
		return time.Time{}
	}
	if ora == "" {
		ora = "00:00:00"
	}
	loc := time.UTC
	if z, err := time.Parse("-0700", zona); err == nil {
		_, off := z.Zone()
		loc = time.FixedZone(zona, off)
	}
	for _, layout := range []string{"02/01/2006 15:04:05", "2/1/2006 15:04:05", "02/01/2006 15:04"} {
		if t, err := time.ParseInLocation(layout, giorno+" "+ora, loc); err == nil {
			return t
		}
	}
	return time.Time{}
}
