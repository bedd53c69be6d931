package edge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"snowlight/bus/rpc"
	"snowlight/detect"
	"snowlight/watchlist"
)

// SyncWatchList makes the cameras match exactly these persons.
func (e *Edge) SyncWatchList(_ context.Context, persons []watchlist.Person) error {
	e.mu.Lock()
	e.persons = make(map[string]watchlist.Person, len(persons))
	for _, p := range persons {
		e.persons[p.ID] = p
	}
	e.mu.Unlock()
	return e.rematch()
}

// PutPerson adds or changes one person.
func (e *Edge) PutPerson(_ context.Context, p watchlist.Person) error {
	e.mu.Lock()
	e.persons[p.ID] = p
	e.mu.Unlock()
	return e.rematch()
}

// RemovePerson stops matching a person, at once.
func (e *Edge) RemovePerson(_ context.Context, id string) error {
	e.mu.Lock()
	delete(e.persons, id)
	e.mu.Unlock()
	return e.rematch()
}

// rematch builds the matcher every camera ranks faces with from the persons now on the list.
func (e *Edge) rematch() error {
	if e.enrol == nil {
		return nil // no face models: nobody is matched
	}
	e.mu.Lock()
	persons := slices.Collect(maps.Values(e.persons))
	e.mu.Unlock()
	m, err := watchlist.NewMatcher(persons, e.o.Deployment.Watchlist, e.enrol.EmbeddingModel(), e.o.Now())
	if err != nil {
		return fmt.Errorf("watch list: %w", err)
	}
	e.matcher.Store(m)
	return nil
}

// Embed finds the face in each enrolment photo and embeds it.
func (e *Edge) Embed(ctx context.Context, r rpc.EmbedRequest) (rpc.EmbedReply, error) {
	if e.enrol == nil || !e.enrol.Recognition() {
		return rpc.EmbedReply{}, fmt.Errorf("face recognition is off on this edge (no models directory): %w", rpc.ErrUnavailable)
	}
	out := rpc.EmbedReply{Model: e.enrol.EmbeddingModel(), Photos: make([]rpc.Embedded, len(r.Photos))}
	for i, ph := range r.Photos {
		rec, emb, err := e.enrol.EmbedPhoto(ctx, detect.PhotoInput{Name: ph.Name, Data: ph.Data}, detect.DefaultEnrolmentRules())
		if err != nil {
			if ctx.Err() != nil {
				return rpc.EmbedReply{}, ctx.Err()
			}
			out.Photos[i].Problem = photoProblem(err)
			continue
		}
		out.Photos[i] = rpc.Embedded{Photo: rec, Embedding: emb}
	}
	return out, nil
}

// photoProblem says in words what was wrong with an enrolment photo.
func photoProblem(err error) string {
	switch {
	case errors.Is(err, detect.ErrNoUsableFace):
		return "no usable face found: use a sharp, frontal photo where the face is at least 40 pixels tall"
	case errors.Is(err, detect.ErrSeveralFaces):
		return "more than one face: crop the photo to the one person"
	}
	return err.Error()
}
