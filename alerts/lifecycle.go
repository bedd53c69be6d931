package alerts

import "fmt"

// Lifecycle is what the next step of an alert depends on: the table of which step may follow which.
// The engine checks every step against it; a stand-in for the engine (web/fake) uses the same table,
// so there is one lifecycle.
type Lifecycle struct {
	Status Status
	// Biometric: a face match, which a person must confirm before a patrol is sent.
	Biometric bool
	// Acked: a dispatched unit or supervisor took the alert. Exhausted: everyone asked and nobody did.
	Acked, Exhausted bool
}

// Lifecycle is the alert's state as the lifecycle sees it.
func (a *Alert) Lifecycle() Lifecycle {
	l := Lifecycle{Status: a.Status, Biometric: a.Biometric()}
	if a.Dispatch != nil {
		l.Acked, l.Exhausted = a.Dispatch.Acked(), a.Dispatch.Exhausted
	}
	return l
}

// Next returns the status the step act leads to, or an error wrapping ErrTransition that says why it
// cannot be taken now. ActConfirmed leads to Confirmed, although under the two-person rule the first
// confirmation of a biometric alert leaves it open; ActAcknowledged keeps an alert Dispatched.
func (l Lifecycle) Next(act Action) (Status, error) {
	cannot := func(what string) (Status, error) {
		return l.Status, fmt.Errorf("%w: cannot %s a %s alert", ErrTransition, what, l.Status)
	}
	switch act {
	case ActConfirmed:
		if l.Status != Open {
			return cannot("confirm")
		}
		return Confirmed, nil
	case ActDispatched:
		switch {
		case l.Status == Open && l.Biometric:
			return l.Status, fmt.Errorf("%w: a face-match alert must be confirmed by a human before dispatch", ErrTransition)
		case l.Status == Open || l.Status == Confirmed:
		case l.Status == Dispatched && l.Exhausted:
			// Nobody answered: an operator may try again with whoever is available now.
		default:
			return cannot("dispatch")
		}
		return Dispatched, nil
	case ActAcknowledged:
		if l.Status != Dispatched {
			return cannot("acknowledge")
		}
		return Dispatched, nil
	case ActOnScene:
		if l.Status != Dispatched {
			return cannot("mark on scene")
		}
		if !l.Acked {
			return l.Status, fmt.Errorf("%w: nobody has acknowledged the dispatch yet", ErrTransition)
		}
		return OnScene, nil
	case ActResolved:
		// A face match nobody confirmed is confirmed or dismissed, not resolved.
		if l.Status.Final() || l.Status == Open && l.Biometric {
			return cannot("resolve")
		}
		return Resolved, nil
	case ActDismissed:
		if l.Status.Final() {
			return cannot("dismiss")
		}
		return Dismissed, nil
	}
	return l.Status, fmt.Errorf("%w: %q is not a step an operator or responder takes", ErrInvalid, act)
}
