package bolt

import (
	"github.com/scimbridge/scimbridge/internal/jsonscan"
	"strconv"
	"time"
)

// The event envelope is written by hand rather than by encoding/json: a
// group delete can append 100,000 events in one transaction. The output is
// byte for byte what encode(eventRecord) gives (TestEnvelopeMatchesEncode
// holds them equal), so readers decode it with encoding/json.

// appendHead appends the fields every event of the write shares:
// ,"occurred_at":…,"org":…
func (o *outbox) appendHead(b []byte) []byte {
	b = append(b, `,"occurred_at":"`...)
	b = o.now.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","org":`...)
	return jsonscan.AppendString(b, o.org)
}

// appendEvent appends the envelope of one event.
func (o *outbox) appendEvent(b []byte, seq uint64, directory, typ string, res resourceRecord, data eventData, changes []byte) []byte {
	b = append(b, `{"id":"`...)
	b = appendID(b)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"type":`...)
	b = jsonscan.AppendString(b, typ)
	b = append(b, o.head...)
	if directory != "" {
		b = append(b, `,"directory":`...)
		b = jsonscan.AppendString(b, directory)
	}
	b = append(b, `,"actor":{"type":`...)
	b = jsonscan.AppendString(b, o.actor.Type)
	if o.actor.ID != "" {
		b = append(b, `,"id":`...)
		b = jsonscan.AppendString(b, o.actor.ID)
	}
	if o.actor.Name != "" {
		b = append(b, `,"name":`...)
		b = jsonscan.AppendString(b, o.actor.Name)
	}
	b = append(b, `},"resource":{"type":`...)
	b = jsonscan.AppendString(b, res.Type)
	b = append(b, `,"id":`...)
	b = jsonscan.AppendString(b, res.ID)
	b = append(b, '}')
	if data != nil {
		b = append(b, `,"data":`...)
		b = data.appendJSON(b)
	}
	if len(changes) > 0 {
		b = append(b, `,"changes":`...)
		b = append(b, changes...)
	}
	return append(b, '}')
}
