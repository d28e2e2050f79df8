package campaign

import (
	"fmt"
	"strings"
)

// expandResult is the outcome of expanding the ${VAR} references of one
// campaign-file value.
type expandResult struct {
	value string
	// unset names the variables that were referenced, not set and had no
	// default; value then holds the empty string in their place.
	unset []string
	// refs is true when the value referenced any variable at all.
	refs bool
}

// expandVars expands the environment references of a campaign-file value:
// ${NAME} is the variable's value, ${NAME:-text} the variable's value or text
// when it is unset or empty, and $$ a literal $. Any other $ is kept as it
// is, so a literal password such as "pa$s" needs no escaping. A ${ without
// its } or with a name that is not [A-Za-z_][A-Za-z0-9_]* is an error.
//
// Expansion happens on decoded values, never on the YAML text, so a
// variable's value cannot change the structure of the file.
func expandVars(s string, lookup func(string) (string, bool)) (expandResult, error) {
	var res expandResult
	if !strings.Contains(s, "$") {
		res.value = s
		return res, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return res, fmt.Errorf("%q has a ${ without its closing }; write $$ for a literal $", s)
		}
		ref := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			return res, fmt.Errorf("${%s} is not a valid variable reference: a name is letters, digits and _ (write $$ for a literal $)", ref)
		}
		res.refs = true
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			res.unset = append(res.unset, name)
		}
		i += 2 + end + 1
	}
	res.value = b.String()
	return res, nil
}

// validVarName reports whether name is a portable environment variable name.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
