package objstore_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"snowlight/objstore"
)

func TestRecordsAreCreateOnly(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s, _ := b.open(t)
			ctx := t.Context()
			r := objstore.Records{Store: s, Prefix: "audit/anchors/"}
			require.NoError(t, r.Create(ctx, "2.json", []byte(`{"n":2}`)))
			require.NoError(t, r.Create(ctx, "1.json", []byte(`{"n":1}`)))
			require.NoError(t, r.Create(ctx, "1.json", []byte(`{"n":1}`)), "the same record again")
			assert.ErrorIs(t, r.Create(ctx, "1.json", []byte(`{"n":9}`)), objstore.ErrExists, "a record was replaced")
			_, err := objstore.PutContent(ctx, s, "clip", "mp4", []byte("not a record"), "video/mp4", objstore.Meta{})
			require.NoError(t, err)
			var names []string
			for name, err := range r.Names(ctx) {
				require.NoError(t, err)
				names = append(names, name)
			}
			assert.Equal(t, []string{"1.json", "2.json"}, names)
		})
	}
}
