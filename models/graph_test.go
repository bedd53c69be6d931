package models

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// graphSummary reads what FreeSize changes back from a model: each graph input's and output's
// dimensions ("16" fixed, "height" symbolic), how many value_info entries remain, and the other graph
// fields (nodes, initializers, ...) as raw bytes, which must come through unchanged.
type graphSummary struct {
	inputs, outputs map[string][]string
	valueInfo       int
	rest            [][]byte
}

func summarize(t *testing.T, model []byte) graphSummary {
	t.Helper()
	s := graphSummary{inputs: map[string][]string{}, outputs: map[string][]string{}}
	_, err := editFields(model, func(out []byte, num protowire.Number, field, graph []byte) ([]byte, error) {
		if num != modelGraph {
			return out, nil
		}
		return editFields(graph, func(out []byte, num protowire.Number, field, vi []byte) ([]byte, error) {
			switch num {
			case graphValueInfo:
				s.valueInfo++
			case graphInput, graphOutput:
				name, err := stringField(vi, valueInfoName)
				require.NoError(t, err)
				var dims []string
				_, err = editPath(vi, []protowire.Number{valueInfoType, typeTensor, tensorShape}, func(shape []byte) ([]byte, error) {
					return editFields(shape, func(out []byte, _ protowire.Number, _, dim []byte) ([]byte, error) {
						p, err := stringField(dim, dimParam)
						require.NoError(t, err)
						if p == "" {
							v, n := protowire.ConsumeVarint(dim[1:]) // dim_value: tag 0x08 then the varint
							require.Positive(t, n)
							p = fmt.Sprint(v)
						}
						dims = append(dims, p)
						return out, nil
					})
				})
				require.NoError(t, err)
				if num == graphInput {
					s.inputs[name] = dims
				} else {
					s.outputs[name] = dims
				}
			default:
				s.rest = append(s.rest, field)
			}
			return out, nil
		})
	})
	require.NoError(t, err)
	return s
}

func TestFreeSizeOfTheResizableModels(t *testing.T) {
	dir := sharedModels(t)
	tests := []struct {
		name          Name
		valueInfo     bool // the exported graph records intermediate shapes
		before, after map[string][]string
	}{
		{FaceDetector, false,
			map[string][]string{"input": {"1", "3", "120", "160"}, "loc": {"1076", "14"}, "conf": {"1076", "2"}, "iou": {"1076", "1"}},
			map[string][]string{"input": {"1", "3", "height", "width"}, "loc": {"loc_0", "loc_1"}, "conf": {"conf_0", "conf_1"}, "iou": {"iou_0", "iou_1"}}},
		{PersonDetector, true,
			map[string][]string{"images": {"1", "3", "416", "416"}, "output": {"1", "3549", "85"}},
			map[string][]string{"images": {"1", "3", "height", "width"}, "output": {"output_0", "output_1", "output_2"}}},
	}
	for _, tc := range tests {
		t.Run(string(tc.name), func(t *testing.T) {
			data, m, err := Load(dir, tc.name)
			require.NoError(t, err)
			require.True(t, m.Input.Resizable)
			orig := bytes.Clone(data)
			edited, err := FreeSize(data, m.Input.Name)
			require.NoError(t, err)
			assert.Equal(t, orig, data, "the verified bytes are not touched")

			was, is := summarize(t, data), summarize(t, edited)
			for name, dims := range tc.before {
				got := was.inputs[name]
				if got == nil {
					got = was.outputs[name]
				}
				assert.Equal(t, dims, got, name)
			}
			for name, dims := range tc.after {
				got := is.inputs[name]
				if got == nil {
					got = is.outputs[name]
				}
				assert.Equal(t, dims, got, name)
			}
			assert.Equal(t, tc.valueInfo, was.valueInfo > 0)
			assert.Zero(t, is.valueInfo)
			assert.Equal(t, was.rest, is.rest, "nodes and weights come through byte for byte")
		})
	}
}

func TestFreeSizeErrors(t *testing.T) {
	data, _, err := Load(sharedModels(t), FaceDetector)
	require.NoError(t, err)
	_, err = FreeSize(data, "no-such-input")
	assert.ErrorIs(t, err, ErrNoInput)
	_, err = FreeSize(data[:len(data)/2], "input")
	assert.Error(t, err, "a truncated model")
	_, err = FreeSize([]byte("not a model at all"), "input")
	assert.Error(t, err)
}

// FuzzFreeSize: any bytes give a model or an error, never a panic, and an edited model edits again to
// itself (the edit is idempotent).
func FuzzFreeSize(f *testing.F) {
	in := protowire.AppendString(protowire.AppendTag(nil, valueInfoName, protowire.BytesType), "x")
	graph := protowire.AppendBytes(protowire.AppendTag(nil, graphInput, protowire.BytesType), in)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, modelGraph, protowire.BytesType), graph))
	f.Add([]byte{0x3a, 0x05, 0x5a, 0x03, 0x0a, 0x01, 'x'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		once, err := FreeSize(data, "x")
		if err != nil {
			return
		}
		twice, err := FreeSize(once, "x")
		require.NoError(t, err)
		assert.Equal(t, once, twice)
	})
}
