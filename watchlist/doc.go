// Package watchlist is the one model of the watch list the whole product shares: the people being
// searched for (Person), the categories they are listed in (Category), when a face is accepted as one
// of them (Policy, Matcher), and how the list is kept (Store).
//
// It is pure Go with no dependency on OpenCV or the database, so the detectors (which produce the
// embeddings), the store (which keeps them), the alert rules, the configuration and the HTTP API all
// speak of the same Person without pulling each other in.
package watchlist
