package models

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the ONNX protobuf messages (onnx/onnx.proto3) that FreeSize reads or rewrites.
const (
	modelGraph protowire.Number = 7 // ModelProto.graph

	graphInput     protowire.Number = 11 // GraphProto.input (ValueInfoProto)
	graphOutput    protowire.Number = 12 // GraphProto.output
	graphValueInfo protowire.Number = 13 // GraphProto.value_info: intermediate shapes

	valueInfoName protowire.Number = 1 // ValueInfoProto.name
	valueInfoType protowire.Number = 2 // ValueInfoProto.type (TypeProto)

	typeTensor  protowire.Number = 1 // TypeProto.tensor_type
	tensorShape protowire.Number = 2 // TypeProto.Tensor.shape (TensorShapeProto)
	shapeDim    protowire.Number = 1 // TensorShapeProto.dim (Dimension)
	dimParam    protowire.Number = 2 // Dimension.dim_param: a symbolic size
)

// ErrNoInput is wrapped by FreeSize when the graph has no input of the given name.
var ErrNoInput = errors.New("graph has no such input")

// FreeSize returns a copy of an ONNX model whose input named input has symbolic height and width (its
// last two dimensions), whose outputs have only symbolic dimensions, and that keeps no value_info
// (the intermediate shapes recorded for the exported size). YuNet's and YOLOX's graphs are fully
// convolutional but say 1x3x120x160 and 1x3x416x416: OpenCV ignores that, ONNX Runtime enforces it, and
// after this edit ONNX Runtime infers every shape again from the size of each run's input.
//
// The edit works on the protobuf wire format and copies every other byte unchanged. Verify the model's
// sha256 on the original bytes, before the edit.
func FreeSize(model []byte, input string) ([]byte, error) {
	found := false
	out, err := editFields(model, func(out []byte, num protowire.Number, field, value []byte) ([]byte, error) {
		if num != modelGraph || value == nil {
			return append(out, field...), nil
		}
		graph, err := editFields(value, func(out []byte, num protowire.Number, field, value []byte) ([]byte, error) {
			switch {
			case num == graphValueInfo:
				return out, nil
			case num == graphOutput && value != nil:
				return appendEdited(out, num, value, func(name string) (func(i int) string, bool) {
					return func(i int) string { return fmt.Sprintf("%s_%d", name, i) }, true
				})
			case num == graphInput && value != nil:
				return appendEdited(out, num, value, func(name string) (func(i int) string, bool) {
					if name != input {
						return nil, false
					}
					found = true
					return func(i int) string { return [...]string{"", "", "height", "width"}[min(i, 3)] }, true
				})
			}
			return append(out, field...), nil
		})
		if err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
		return protowire.AppendBytes(protowire.AppendTag(out, num, protowire.BytesType), graph), nil
	})
	if err != nil {
		return nil, fmt.Errorf("free the input size of the model: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("free the input size of the model: %w: %q", ErrNoInput, input)
	}
	return out, nil
}

// appendEdited appends the ValueInfoProto vi as field num, with the dimensions that names gives a name
// for (a non-empty one) made symbolic; names decides by the value's name, and false keeps vi as it is.
func appendEdited(out []byte, num protowire.Number, vi []byte, names func(string) (func(int) string, bool)) ([]byte, error) {
	name, err := stringField(vi, valueInfoName)
	if err != nil {
		return nil, err
	}
	symbol, edit := names(name)
	if edit {
		vi, err = editPath(vi, []protowire.Number{valueInfoType, typeTensor, tensorShape}, func(shape []byte) ([]byte, error) {
			i := 0
			return editFields(shape, func(out []byte, num protowire.Number, field, value []byte) ([]byte, error) {
				if num != shapeDim {
					return append(out, field...), nil
				}
				s := symbol(i)
				i++
				if s == "" {
					return append(out, field...), nil
				}
				dim := protowire.AppendString(protowire.AppendTag(nil, dimParam, protowire.BytesType), s)
				return protowire.AppendBytes(protowire.AppendTag(out, num, protowire.BytesType), dim), nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return protowire.AppendBytes(protowire.AppendTag(out, num, protowire.BytesType), vi), nil
}

// editPath rewrites, through the chain of length-delimited fields path, the innermost message with fn.
func editPath(msg []byte, path []protowire.Number, fn func([]byte) ([]byte, error)) ([]byte, error) {
	if len(path) == 0 {
		return fn(msg)
	}
	return editFields(msg, func(out []byte, num protowire.Number, field, value []byte) ([]byte, error) {
		if num != path[0] || value == nil {
			return append(out, field...), nil
		}
		inner, err := editPath(value, path[1:], fn)
		if err != nil {
			return nil, err
		}
		return protowire.AppendBytes(protowire.AppendTag(out, num, protowire.BytesType), inner), nil
	})
}

// editFields walks the fields of a message and lets edit append each (field is the whole encoded field,
// value its payload when length-delimited, else nil).
func editFields(msg []byte, edit func(out []byte, num protowire.Number, field, value []byte) ([]byte, error)) ([]byte, error) {
	out := make([]byte, 0, len(msg))
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, fmt.Errorf("field tag: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
		}
		var value []byte
		if typ == protowire.BytesType {
			value, _ = protowire.ConsumeBytes(msg[n:])
			if value == nil {
				value = []byte{}
			}
		}
		var err error
		if out, err = edit(out, num, msg[:n+m], value); err != nil {
			return nil, err
		}
		msg = msg[n+m:]
	}
	return out, nil
}

// stringField is the first length-delimited field num of msg, as a string.
func stringField(msg []byte, num protowire.Number) (string, error) {
	for len(msg) > 0 {
		n, typ, k := protowire.ConsumeTag(msg)
		if k < 0 {
			return "", fmt.Errorf("field tag: %w", protowire.ParseError(k))
		}
		if n == num && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(msg[k:])
			if m < 0 {
				return "", fmt.Errorf("field %d: %w", n, protowire.ParseError(m))
			}
			return string(v), nil
		}
		m := protowire.ConsumeFieldValue(n, typ, msg[k:])
		if m < 0 {
			return "", fmt.Errorf("field %d: %w", n, protowire.ParseError(m))
		}
		msg = msg[k+m:]
	}
	return "", nil
}
