# Prints every receipt archived in a pecbatch journal, one JSON object a
# line, with nothing but Python's standard library:
#   python3 read_receipts.py campaign.journal.db
import json, sqlite3, sys, zlib

def fields(b):
    # sender, recipient, subject, body: each a uvarint length, then UTF-8 bytes
    out = []
    for _ in range(4):
        n = shift = 0
        while True:
            c, b = b[0], b[1:]
            n |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                break
        out.append(b[:n].decode("utf-8"))
        b = b[n:]
    return out

db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
dicts = dict(db.execute("SELECT id, data FROM dictionaries"))
for (number, key, message_id, kind, date_text, addressee, occurrence,
     date, error, content, dict_id, archived) in db.execute("""
        SELECT r.row_number, r.key, r.message_id, c.kind, c.date_text,
               c.addressee, c.occurrence, c.date, c.error_text, c.content,
               c.dict_id, c.archived_at
        FROM receipts c JOIN rows r ON r.id = c.row_id
        ORDER BY r.row_number, coalesce(c.date, c.archived_at),
                 c.kind, c.addressee, c.occurrence"""):
    if dict_id is not None:
        # raw DEFLATE (no zlib header) against the preset dictionary
        z = zlib.decompressobj(wbits=-15, zdict=dicts[dict_id])
        content = z.decompress(content) + z.flush()
    sender, recipient, subject, body = fields(content)
    print(json.dumps({
        "row": number, "key": key, "message_id": message_id,
        "kind": kind, "date_text": date_text, "addressee": addressee,
        "occurrence": occurrence, "date_ms": date, "error": error,
        "archived_ms": archived, "sender": sender, "recipient": recipient,
        "subject": subject, "body": body}, ensure_ascii=False))
