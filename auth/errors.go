package auth

import (
	"errors"
	"fmt"
)

// ErrInvalid marks errors in what the caller supplied (a name, role, password or scope): the message
// says what to change, and package web answers them with 400.
var ErrInvalid = errors.New("invalid input")

type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}
