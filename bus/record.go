package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// An event as the outbox keeps it: a version byte, then edge, camera, kind, key and message id (each
// a uvarint length and the bytes), epoch and seq (uvarints), the production time (varint unix ns),
// and the payload to the end.
const recordVersion = 1

func encodeRecord(e *Event) []byte {
	b := make([]byte, 0, 64+len(e.Edge)+len(e.Camera)+len(e.Kind)+len(e.Key)+len(e.ID)+len(e.Payload))
	b = append(b, recordVersion)
	for _, s := range [...]string{e.Edge, e.Camera, e.Kind, e.Key, e.ID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, e.Epoch)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Produced.UnixNano())
	return append(b, e.Payload...)
}

var errRecord = errors.New("malformed outbox record")

func decodeRecord(b []byte) (Event, error) {
	if len(b) == 0 || b[0] != recordVersion {
		return Event{}, fmt.Errorf("%w: unknown version", errRecord)
	}
	b = b[1:]
	var strs [5]string
	for i := range strs {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return Event{}, fmt.Errorf("%w: field %d", errRecord, i)
		}
		strs[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var nums [2]uint64
	for i := range nums {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return Event{}, fmt.Errorf("%w: number %d", errRecord, i)
		}
		nums[i], b = n, b[k:]
	}
	ns, k := binary.Varint(b)
	if k <= 0 {
		return Event{}, fmt.Errorf("%w: time", errRecord)
	}
	e := Event{Edge: strs[0], Camera: strs[1], Kind: strs[2], Key: strs[3], ID: strs[4],
		Epoch: nums[0], Seq: nums[1], Produced: time.Unix(0, ns).UTC(), Payload: b[k:]}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("%w: %w", errRecord, err)
	}
	return e, nil
}
