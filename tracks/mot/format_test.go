package mot

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Row
		wantErr string
	}{
		{"mot15 gt", "1,2,88,99,61.08,218.56,1,4.4852,5.5016,0\n",
			[]Row{{Frame: 1, ID: 2, X: 88, Y: 99, W: 61.08, H: 218.56, Conf: 1}}, ""},
		{"mot17 gt", "3,1,912,484,97,109,0,7,0.5\n",
			[]Row{{Frame: 3, ID: 1, X: 912, Y: 484, W: 97, H: 109, Conf: 0, Class: 7, Visibility: 0.5}}, ""},
		{"detection", "69,-1,912.8,482.9,97.6,112.6,0.9\n",
			[]Row{{Frame: 69, ID: -1, X: 912.8, Y: 482.9, W: 97.6, H: 112.6, Conf: 0.9}}, ""},
		{"spaces and blank lines", "\n1 1 0 0 10 10\n\n2\t1\t1\t1\t10\t10\n",
			[]Row{{Frame: 1, ID: 1, W: 10, H: 10, Conf: 1}, {Frame: 2, ID: 1, X: 1, Y: 1, W: 10, H: 10, Conf: 1}}, ""},
		{"windows line ends", "1,1,0,0,10,10,1\r\n", []Row{{Frame: 1, ID: 1, W: 10, H: 10, Conf: 1}}, ""},
		{"too few fields", "1,1,0,0,10\n", nil, "line 1: want at least 6 fields"},
		{"not a number", "1,1,0,zero,10,10\n", nil, "line 1: field 4"},
		{"fractional frame", "1.5,1,0,0,10,10\n", nil, "frame 1.5 is not an integer"},
		{"negative size", "1,1,0,0,-10,10\n", nil, "negative"},
		{"nan", "1,1,NaN,0,10,10\n", nil, "not a finite number"},
		{"error names line", "1,1,0,0,10,10\n2,x,0,0,10,10\n", nil, "line 2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	rows := []Row{{Frame: 1, ID: 3, X: 1.25, Y: 2.5, W: 30, H: 60.75, Conf: 1}, {Frame: 2, ID: 4, X: 0, Y: 0, W: 1, H: 1, Conf: 0.5}}
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, rows))
	got, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, rows, got)
}

func TestByFrame(t *testing.T) {
	rows := []Row{{Frame: 3, ID: 1}, {Frame: 1, ID: 2}, {Frame: 3, ID: 0}, {Frame: 1, ID: 1}}
	frames := ByFrame(rows)
	require.Len(t, frames, 2)
	require.Equal(t, 1, frames[0].Number)
	require.Equal(t, 3, frames[1].Number)
	assert.Equal(t, 2, frames[0].Rows[0].ID, "file order inside a frame lost: %+v", frames)
	assert.Equal(t, 0, frames[1].Rows[1].ID, "file order inside a frame lost: %+v", frames)
}

// FuzzRead checks that no input makes the reader panic and that what it accepts survives a write and
// a second read.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"1,2,88,99,61.08,218.56,1,4.4852,5.5016,0\n",
		"3,1,912,484,97,109,0,7,1.0\n",
		"69,-1,912.8,482.9,97.6,112.6,1\n",
		"1 1 0 0 10 10\n\n",
		"1,1,1e308,0,10,10\n",
		"-1,1,0,0,10,10\n",
		",,,,,,\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := Read(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range rows {
			require.False(t, r.Frame < 0 || r.W < 0 || r.H < 0, "accepted %+v", r)
		}
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, rows))
		written := buf.String()
		again, err := Read(&buf)
		require.NoError(t, err, "re-reading written rows:\n%s", written)
		require.Len(t, again, len(rows))
	})
}
