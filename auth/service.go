package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"time"
)

// Config configures a Service. Zero durations and limits take the defaults documented on each field.
type Config struct {
	Store Store
	// Now is the clock; time.Now when nil. Expiry and lockout depend on it, so tests pass their own.
	Now    func() time.Time
	Argon2 Argon2Params // DefaultArgon2() when zero
	// SessionIdle ends a console session nobody used for this long (30 min); SessionMax ends it anyway
	// (12 h, a shift). TokenTTL is an API token's lifetime (24 h).
	SessionIdle, SessionMax, TokenTTL time.Duration
	Limits                            LoginLimits // DefaultLoginLimits() when zero
	// MaxConcurrentHashes bounds simultaneous password hashes, each of which takes Argon2.MemoryKiB of
	// memory (runtime.NumCPU() when zero).
	MaxConcurrentHashes int
	// MaxHashQueue password checks (logins, password changes) may wait for a hash slot, none longer than
	// MaxHashWait; past either the check is refused with a Busy *LockedError (HTTP 429). Defaults: 8 per
	// slot, 5 s.
	MaxHashQueue int
	MaxHashWait  time.Duration
}

// Service manages users and checks who is calling.
type Service struct {
	store                             Store
	now                               func() time.Time
	argon                             Argon2Params
	sessionIdle, sessionMax, tokenTTL time.Duration
	touchEvery                        time.Duration
	users, clients                    *limiter
	hashes                            *hashQueue
	// dummyHash is verified against when the user does not exist, so that path costs what a wrong
	// password costs and the response time does not tell which names are real.
	dummyHash string
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: Config.Store is required")
	}
	s := &Service{
		store: cfg.Store, now: cfg.Now, argon: cfg.Argon2,
		sessionIdle: cfg.SessionIdle, sessionMax: cfg.SessionMax, tokenTTL: cfg.TokenTTL,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.argon == (Argon2Params{}) {
		s.argon = DefaultArgon2()
	}
	if s.sessionIdle <= 0 {
		s.sessionIdle = 30 * time.Minute
	}
	if s.sessionMax <= 0 {
		s.sessionMax = 12 * time.Hour
	}
	if s.tokenTTL <= 0 {
		s.tokenTTL = 24 * time.Hour
	}
	// Recording every request's time would turn each read into a write; a session's idle clock only
	// needs to be as precise as a small fraction of the idle limit.
	s.touchEvery = min(time.Minute, s.sessionIdle/10)
	lim := cfg.Limits
	if lim == (LoginLimits{}) {
		lim = DefaultLoginLimits()
	}
	if lim.PerUser <= 0 || lim.PerClient <= 0 || lim.Window <= 0 || lim.Lockout <= 0 {
		return nil, fmt.Errorf("auth: login limits must all be positive, got %+v", lim)
	}
	s.users = newLimiter(lim.PerUser, lim.Window, lim.Lockout)
	s.clients = newLimiter(lim.PerClient, lim.Window, lim.Lockout)
	n := cfg.MaxConcurrentHashes
	if n <= 0 {
		n = runtime.NumCPU()
	}
	queue, wait := cfg.MaxHashQueue, cfg.MaxHashWait
	if queue <= 0 {
		queue = 8 * n
	}
	if wait <= 0 {
		wait = 5 * time.Second
	}
	s.hashes = newHashQueue(n, queue, wait)
	dummy, err := hashPassword(s.argon, "snowlight dummy password for unknown users")
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	return s, nil
}

// NewUser is what AddUser needs.
type NewUser struct {
	Name     string
	Role     Role
	Password string
	Scope    Scope
}

// AddUser creates an account.
func (s *Service) AddUser(ctx context.Context, nu NewUser) (User, error) {
	name, err := NormalizeName(nu.Name)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(nu.Role)); err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	if err := nu.Scope.Validate(); err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	if err := CheckPassword(name, nu.Password); err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	hash, err := s.hash(ctx, nu.Password)
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	now := s.now()
	u, err := s.store.CreateUser(ctx, User{Name: name, Role: nu.Role, Scope: nu.Scope.clone(), Created: now, Updated: now}, hash)
	if err != nil {
		return User{}, fmt.Errorf("add user %s: %w", name, err)
	}
	return u, nil
}

// User returns the account with the given id.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// UserByName returns the account with the given name.
func (s *Service) UserByName(ctx context.Context, name string) (User, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return User{}, err
	}
	u, _, err := s.store.UserByName(ctx, n)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", n, err)
	}
	return u, nil
}

// Users lists every account.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.store.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// SetPassword replaces a user's password and ends all their sessions and tokens.
func (s *Service) SetPassword(ctx context.Context, id int64, password string) error {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", id, err)
	}
	if err := CheckPassword(u.Name, password); err != nil {
		return fmt.Errorf("set password of %s: %w", u.Name, err)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", u.Name, err)
	}
	if err := s.store.SetPassword(ctx, id, hash, s.now()); err != nil {
		return fmt.Errorf("set password of %s: %w", u.Name, err)
	}
	if err := s.store.DeleteUserCredentials(ctx, id); err != nil {
		return fmt.Errorf("set password of %s: end sessions: %w", u.Name, err)
	}
	return nil
}

// SetDisabled disables or re-enables an account. Disabling ends all its sessions and tokens at once.
func (s *Service) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	if err := s.store.SetDisabled(ctx, id, disabled, s.now()); err != nil {
		return fmt.Errorf("disable user %d: %w", id, err)
	}
	if disabled {
		if err := s.store.DeleteUserCredentials(ctx, id); err != nil {
			return fmt.Errorf("disable user %d: end sessions: %w", id, err)
		}
	}
	return nil
}

// SetScope replaces the cameras, areas or persons a user is limited to.
func (s *Service) SetScope(ctx context.Context, id int64, sc Scope) error {
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("set scope of user %d: %w", id, err)
	}
	if err := s.store.SetScope(ctx, id, sc.clone(), s.now()); err != nil {
		return fmt.Errorf("set scope of user %d: %w", id, err)
	}
	return nil
}

// ErrBadCredentials is the one answer to a failed login, whatever the reason, so the response does not
// tell which user names exist or are disabled.
var ErrBadCredentials = errors.New("wrong user name or password")

// LoginFailure is a failed login. Its message is ErrBadCredentials'; Reason is for the audit log only.
type LoginFailure struct {
	Reason string // "unknown user", "wrong password", "disabled"
	// Locked is set when this failure locked the name or the client address.
	Locked bool
}

func (f *LoginFailure) Error() string        { return ErrBadCredentials.Error() }
func (f *LoginFailure) Is(target error) bool { return target == ErrBadCredentials }

// LockedError refuses a password check without making it: the user name or client address is locked
// out after too many failures or (Busy) the attempts already being checked for it fill its budget or
// too many password checks are queued.
type LockedError struct {
	RetryAfter time.Duration
	Busy       bool
}

func (e *LockedError) Error() string {
	if e.Busy {
		return fmt.Sprintf("too many logins at once: try again in %d seconds", int(e.RetryAfter.Round(time.Second)/time.Second))
	}
	return fmt.Sprintf("too many failed logins: try again in %d minutes", int(e.RetryAfter.Round(time.Minute)/time.Minute)+1)
}

// LoginRequest is one login attempt.
type LoginRequest struct {
	Name, Password string
	Client         netip.Addr // the caller's address, for per-client limits
	Kind           CredentialKind
}

// Issued is a new session or token. Secret goes to the client once and is never stored.
type Issued struct {
	User    User
	Kind    CredentialKind
	Secret  string
	Expires time.Time
}

// Login checks a user name and password and issues a session or token.
func (s *Service) Login(ctx context.Context, req LoginRequest) (Issued, error) {
	if req.Kind != KindSession && req.Kind != KindToken {
		return Issued{}, fmt.Errorf("login: unknown credential kind %q", req.Kind)
	}
	name, nameErr := NormalizeName(req.Name)
	userKey := "u:" + name
	if nameErr != nil {
		// Invalid names are still counted (under one key) so they cannot be used to probe for free.
		userKey = "u:?invalid"
	}
	a, err := s.beginAttempt(userKey, clientKey(req.Client))
	if err != nil {
		return Issued{}, err
	}
	u, hash, err := s.lookup(ctx, name, nameErr)
	if err != nil {
		a.cancel()
		return Issued{}, err
	}
	reason := ""
	if hash == "" {
		reason = "unknown user"
		hash = s.dummyHash
	}
	ok, params, bad, err := s.verify(ctx, hash, req.Password)
	if err != nil {
		a.cancel()
		return Issued{}, fmt.Errorf("login %s: %w", name, err)
	}
	switch {
	case reason != "":
	case bad != nil:
		reason = "stored password hash unusable: " + bad.Error()
	case !ok:
		reason = "wrong password"
	case u.Disabled:
		reason = "disabled"
	}
	if reason != "" {
		return Issued{}, &LoginFailure{Reason: reason, Locked: a.fail()}
	}
	if err := a.succeed(); err != nil {
		return Issued{}, err
	}
	now := s.now()
	if params != s.argon {
		// Parameters were raised since this hash was made: upgrade it now that the password is known.
		if h, err := s.hash(ctx, req.Password); err == nil {
			_ = s.store.SetPassword(ctx, u.ID, h, now) // the login stands even if the upgrade fails
		}
	}
	return s.issue(ctx, u, req.Kind, now)
}

func (s *Service) lookup(ctx context.Context, name string, nameErr error) (User, string, error) {
	if nameErr != nil {
		return User{}, "", nil
	}
	u, hash, err := s.store.UserByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return User{}, "", nil
	}
	if err != nil {
		return User{}, "", fmt.Errorf("login %s: %w", name, err)
	}
	return u, hash, nil
}

func (s *Service) issue(ctx context.Context, u User, kind CredentialKind, now time.Time) (Issued, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Issued{}, fmt.Errorf("issue %s for %s: %w", kind, u.Name, err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	if kind == KindSession && strings.HasPrefix(secret, TokenPrefix) {
		// One in 2^24: a session must not look like a token.
		return s.issue(ctx, u, kind, now)
	}
	ttl := s.sessionMax
	if kind == KindToken {
		// The prefix lets secret scanners and log filters recognise a leaked token.
		secret = TokenPrefix + secret
		ttl = s.tokenTTL
	}
	c := Credential{IDHash: credentialHash(secret), UserID: u.ID, Kind: kind, Created: now, LastSeen: now, Expires: now.Add(ttl)}
	if err := s.store.CreateCredential(ctx, c); err != nil {
		return Issued{}, fmt.Errorf("issue %s for %s: %w", kind, u.Name, err)
	}
	return Issued{User: u, Kind: kind, Secret: secret, Expires: c.Expires}, nil
}

// TokenPrefix starts every API token.
const TokenPrefix = "slt_"

// ErrUnauthenticated means the session or token is unknown, expired, revoked or of the wrong kind.
var ErrUnauthenticated = errors.New("not logged in, or the session has expired: log in again")

// Authenticate checks a session id (from the cookie) or token (from the Authorization header).
func (s *Service) Authenticate(ctx context.Context, secret string, kind CredentialKind) (Principal, error) {
	if secret == "" || len(secret) > 128 || (kind == KindToken) != strings.HasPrefix(secret, TokenPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	h := credentialHash(secret)
	c, u, err := s.store.Credential(ctx, h)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if c.Kind != kind {
		return Principal{}, ErrUnauthenticated
	}
	now := s.now()
	expired := s.expired(c, now)
	if expired || u.Disabled {
		if expired {
			if err := s.store.DeleteCredential(ctx, h); err != nil {
				return Principal{}, fmt.Errorf("authenticate: end expired %s: %w", c.Kind, err)
			}
		}
		return Principal{}, ErrUnauthenticated
	}
	if now.Sub(c.LastSeen) >= s.touchEvery {
		if err := s.store.TouchCredential(ctx, h, now); err != nil {
			return Principal{}, fmt.Errorf("authenticate: %w", err)
		}
	}
	return Principal{User: u, Kind: kind, credential: h}, nil
}

// Logout ends the session or token the principal authenticated with.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if p.credential == "" {
		return errors.New("logout: the principal was not authenticated by this service")
	}
	if err := s.store.DeleteCredential(ctx, p.credential); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("logout %s: %w", p.User.Name, err)
	}
	return nil
}

// PurgeExpired deletes sessions and tokens past their absolute expiry or idle limit. Authenticate
// refuses them anyway; deleting them keeps a copy of the database from telling who was logged in when.
// (Logout, disabling and password changes delete at once.)
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	now := s.now()
	n, err := s.store.DeleteExpiredCredentials(ctx, now, now.Add(-s.sessionIdle))
	if err != nil {
		return 0, fmt.Errorf("purge expired sessions: %w", err)
	}
	return n, nil
}

// CSRFToken is the anti-forgery token that goes with a console session: derived from the session secret,
// so it needs no storage, cannot be guessed without the session cookie, and dies with the session.
func CSRFToken(sessionSecret string) string {
	h := sha256.Sum256([]byte("snowlight csrf v1\x00" + sessionSecret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// ValidCSRF reports whether token is the session's anti-forgery token, in constant time.
func ValidCSRF(sessionSecret, token string) bool {
	return sessionSecret != "" && subtle.ConstantTimeCompare([]byte(CSRFToken(sessionSecret)), []byte(token)) == 1
}

func credentialHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// attempt is one password check, counted against the user name's and the client address's limits from
// before the hash until it ends in exactly one of cancel, fail or succeed.
type attempt struct {
	s                  *Service
	userKey, clientKey string
}

// beginAttempt reserves an attempt, or refuses it with a *LockedError without any hashing.
func (s *Service) beginAttempt(userKey, cKey string) (attempt, error) {
	now := s.now()
	refuse := func(locked time.Duration, busy bool) error {
		if busy {
			// The attempts that fill the budget end within one queue wait.
			return &LockedError{RetryAfter: s.hashes.maxWait, Busy: true}
		}
		return &LockedError{RetryAfter: locked}
	}
	if d, busy := s.users.begin(userKey, now); d > 0 || busy {
		return attempt{}, refuse(d, busy)
	}
	if cKey != "" {
		if d, busy := s.clients.begin(cKey, now); d > 0 || busy {
			s.users.cancel(userKey)
			return attempt{}, refuse(d, busy)
		}
	}
	return attempt{s: s, userKey: userKey, clientKey: cKey}, nil
}

// cancel ends an attempt that checked no password.
func (a attempt) cancel() {
	a.s.users.cancel(a.userKey)
	if a.clientKey != "" {
		a.s.clients.cancel(a.clientKey)
	}
}

// fail counts a failed check and reports whether it locked the name or the address.
func (a attempt) fail() bool {
	now := a.s.now()
	lockedUser, _ := a.s.users.end(a.userKey, now, true, false)
	lockedClient := false
	if a.clientKey != "" {
		lockedClient, _ = a.s.clients.end(a.clientKey, now, true, false)
	}
	return lockedUser || lockedClient
}

// succeed ends a correct check and clears the name's failures (not the address's: one good login must
// not wipe out guesses at other names). Should the name or address be locked by now, the correct password
// is refused like any other inside a lockout.
func (a attempt) succeed() error {
	now := a.s.now()
	_, d := a.s.users.end(a.userKey, now, false, true)
	if a.clientKey != "" {
		_, dc := a.s.clients.end(a.clientKey, now, false, false)
		d = max(d, dc)
	}
	if d > 0 {
		return &LockedError{RetryAfter: d}
	}
	return nil
}

// hash runs Argon2 within the concurrency bound, waiting as long as ctx allows: it makes new hashes for
// accounts an administrator (or a logged-in user) set, not for anonymous callers.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.hashes.acquire(ctx, false); err != nil {
		return "", err
	}
	defer s.hashes.release()
	return hashPassword(s.argon, password)
}

// verify checks a password within the concurrency bound and the queue's limits. A hash that cannot be
// parsed counts as a mismatch (the login fails like any other), and is reported through bad.
func (s *Service) verify(ctx context.Context, hash, password string) (ok bool, p Argon2Params, bad error, err error) {
	if err := s.hashes.acquire(ctx, true); err != nil {
		return false, p, nil, err
	}
	defer s.hashes.release()
	// An over-long password still costs one hash, like any other wrong one.
	long := len(password) > MaxPasswordLen
	if long {
		password = password[:MaxPasswordLen]
	}
	ok, p, bad = verifyPassword(hash, password)
	return ok && !long && bad == nil, p, bad, nil
}

// ChangePassword lets a user replace their own password. The current password is checked like a login
// and counts against the same limits; afterwards all the user's sessions and tokens end.
func (s *Service) ChangePassword(ctx context.Context, p Principal, client netip.Addr, current, next string) error {
	if err := CheckPassword(p.User.Name, next); err != nil {
		return err
	}
	a, err := s.beginAttempt("u:"+p.User.Name, clientKey(client))
	if err != nil {
		return err
	}
	_, hash, err := s.store.UserByName(ctx, p.User.Name)
	if err != nil {
		a.cancel()
		return fmt.Errorf("change password of %s: %w", p.User.Name, err)
	}
	ok, _, _, err := s.verify(ctx, hash, current)
	if err != nil {
		a.cancel()
		return fmt.Errorf("change password of %s: %w", p.User.Name, err)
	}
	if !ok {
		return &LoginFailure{Reason: "wrong current password", Locked: a.fail()}
	}
	if err := a.succeed(); err != nil {
		return err
	}
	return s.SetPassword(ctx, p.User.ID, next)
}
