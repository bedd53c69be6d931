// Package browsertest drives the operator console in a real headless Chromium (through chromedp) against
// any running Snowlight server: the package's own tests start one over fake services and a real live
// view, and the same suite (Run) can target `snowlight demo` or a deployment given its base URL, the
// accounts to log in with and a way to raise an alert.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// ChromiumPath is where Debian installs Chromium; $SNOWLIGHT_CHROMIUM overrides it.
const ChromiumPath = "/usr/bin/chromium"

// Browser is one headless Chromium with a fresh profile.
type Browser struct {
	ctx    context.Context // the browser's first tab; it has run once, so tabs can get their own contexts
	cancel context.CancelFunc
	shots  string
}

// FindChromium returns the Chromium executable, or "" when there is none.
func FindChromium() string {
	for _, p := range []string{os.Getenv("SNOWLIGHT_CHROMIUM"), ChromiumPath} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// StartBrowser starts Chromium headless with the flags the test environment needs (no sandbox, no GPU,
// no QUIC, nothing fetched from the internet) and a fresh profile; it stops at t's cleanup. It skips the
// test when Chromium is not installed. Screenshots go to shots (created if needed).
func StartBrowser(t testing.TB, shots string) *Browser {
	t.Helper()
	exe := FindChromium()
	if exe == "" {
		t.Skip("chromium not installed (apt-get install chromium, or set SNOWLIGHT_CHROMIUM)")
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		// Host candidates as plain addresses rather than mDNS names, which a container cannot resolve.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{ctx: ctx, cancel: func() { cancel(); acancel() }, shots: shots}
	t.Cleanup(b.cancel)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start chromium")
	return b
}

// Tab is a page in its own browser context: its own cookies, so each account logs in separately.
type Tab struct {
	ctx    context.Context
	cancel context.CancelFunc
	b      *Browser

	mu       sync.Mutex
	problems []string // uncaught exceptions, console errors, CSP violations
}

// NewTab opens a tab in a new browser context. It closes at t's cleanup.
func (b *Browser) NewTab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	tab := &Tab{ctx: ctx, cancel: cancel, b: b}
	t.Cleanup(cancel)
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	}))
	require.NoError(t, err, "open tab")
	err = chromedp.Listen(ctx, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				p += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				p = "console.error: " + strings.Join(parts, " ")
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("log %s: %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		}
		if p != "" {
			tab.mu.Lock()
			tab.problems = append(tab.problems, p)
			tab.mu.Unlock()
		}
	})
	require.NoError(t, err)
	return tab
}

// Problems returns what the page reported as errors so far, and forgets them.
func (tab *Tab) Problems() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	p := tab.problems
	tab.problems = nil
	return p
}

// Do runs actions with a timeout.
func (tab *Tab) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tab.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression (awaiting a promise) and decodes its value.
func Eval[T any](tab *Tab, timeout time.Duration, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// WaitJS waits until the expression is truthy and returns its value.
func WaitJS[T any](tab *Tab, timeout time.Duration, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, timeout+time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		return v, fmt.Errorf("waiting for %s: %w", expr, err)
	}
	return v, nil
}

// Screenshot saves the viewport as name.png in the browser's screenshot directory.
func (tab *Tab) Screenshot(name string) (string, error) {
	ctx, cancel := context.WithTimeout(tab.ctx, 20*time.Second)
	defer cancel()
	// From the top, so the sticky header is where a person sees it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	path := filepath.Join(tab.b.shots, name+".png")
	return path, os.WriteFile(path, png, 0o644)
}

// Login opens the console at base and logs in through its form.
func (tab *Tab) Login(base string, a Account) error {
	if err := tab.Do(30*time.Second,
		chromedp.Navigate(strings.TrimRight(base, "/")+"/#/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), a.User),
		chromedp.SendKeys(chromedp.CSS("#login-password"), a.Password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	); err != nil {
		return fmt.Errorf("log in as %s: %w", a.User, err)
	}
	_, err := WaitJS[bool](tab, 15*time.Second, `document.documentElement.dataset.page && document.documentElement.dataset.page !== 'login'`)
	if err != nil {
		msg, _ := Eval[string](tab, 5*time.Second, `(document.getElementById('login-error')||{}).textContent || ''`)
		return fmt.Errorf("log in as %s: %v %s", a.User, err, msg)
	}
	return nil
}

// Go navigates the console to a hash route (e.g. "#/live") and waits until that page is shown.
func (tab *Tab) Go(route, page string) error {
	if _, err := Eval[chromedp.Void](tab, 5*time.Second, fmt.Sprintf(`location.hash = %q`, route)); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
		return err
	}
	_, err := WaitJS[bool](tab, 15*time.Second, fmt.Sprintf(`document.documentElement.dataset.page === %q`, page))
	return err
}

// RepoDir finds the repository root (the directory with go.mod) above the working directory.
func RepoDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// ScreenshotDir is $SNOWLIGHT_SCREENSHOTS, or out/screenshots in the repository.
func ScreenshotDir() string {
	if d := os.Getenv("SNOWLIGHT_SCREENSHOTS"); d != "" {
		return d
	}
	root, err := RepoDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "snowlight-screenshots")
	}
	return filepath.Join(root, "out", "screenshots")
}
