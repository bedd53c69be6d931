package web_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"snowlight/auth"
	"snowlight/web"
)

// TestStreamReplayIsBounded checks that a stream resuming from far behind (Last-Event-ID: 0, the
// whole log) is sent only the newest 500 events it missed, then live ones.
func TestStreamReplayIsBounded(t *testing.T) {
	p := newProduct(t, nil, nil)
	for i := range 700 {
		p.W.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: fmt.Sprintf("a-%03d", i), Rule: "loitering", Severity: "normal", Camera: "cam-1"}})
	}
	last := 702 // the two alerts of the test world, then these
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := openStream(t, p, ctx, p.Token(t, auth.Admin), "0")
	first := s.next(t)
	n := 1
	for id := first.id; id != strconv.Itoa(last); n++ {
		id = s.next(t).id
	}
	assert.Equal(t, 500, n, "events replayed")
	assert.Equal(t, strconv.Itoa(last-499), first.id, "the first replayed is among the newest")
	p.W.Alerts.Raise(web.AlertDetail{AlertView: web.AlertView{ID: "a-live", Rule: "loitering", Severity: "normal", Camera: "cam-1"}})
	assert.Equal(t, "a-live", s.next(t).alert.ID)
}
