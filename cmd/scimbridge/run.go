package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	rtpprof "runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/conformance"
	"github.com/scimbridge/scimbridge/events"
	"github.com/scimbridge/scimbridge/internal/edge"
	"github.com/scimbridge/scimbridge/internal/metrics"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/loadtest"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/sso"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

const usage = `usage: scimbridge <command> [flags]

commands:
  serve              run the server (creates org "default" and directory "default" on an empty database)
  token create       create a token offline (server stopped): --data PATH (--org ORG (--directory DIR | --admin) | --super) [--name NAME] [--expires 90d]
  token list         list tokens on a running server: --url URL --token ADMIN_TOKEN [--org ORG] [--directory DIR | --super] [--json]
  token rotate       replace a token, the old one valid for an overlap: token rotate ID --url URL --token ADMIN_TOKEN [--org ORG] [--directory DIR | --super] [--overlap 24h] [--expires 90d|never] [--json]
  token revoke       revoke a token at once: token revoke ID --url URL --token ADMIN_TOKEN [--org ORG] [--directory DIR | --super]
  rules              validate, simulate or publish a rules file on a running server: rules validate|simulate|publish FILE --url URL --token ADMIN_TOKEN [--force --reason WHY] [--json]
  access             show a person's roles and why: access USER --url URL --token ADMIN_TOKEN [--json]
  backup             snapshot the database: backup --out FILE (--url URL --token SUPER_TOKEN | --data PATH) [--force]
  restore            put a verified backup in place (server stopped): restore --in FILE --data PATH [--force]
  compact            give back deleted space (server stopped): compact --data PATH [--keep=false]
  bench              drive SCIM load at any server: bench --url BASE_URL --token TOKEN --workload sync|lookup|patch|biggroup|mixed [--users N] [--concurrency C] [--duration D]
  conformance        check any SCIM server: --url BASE_URL --token TOKEN [--profile generic|okta|entra|google]
  directory create   create a directory offline (server stopped): --data PATH --org ORG --name NAME [--profile generic|okta|entra|google]

run "scimbridge <command> -h" for the flags of a command.
`

// backends maps a store backend name to its constructor. Only bbolt
// exists today.
var backends = map[string]func(path string) (store.Store, error){
	"bolt": func(path string) (store.Store, error) {
		return bolt.Open(path, bolt.Options{Timeout: time.Second})
	},
}

// exitError carries an exit status with a message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run is the whole program; main only supplies the process's context,
// environment and streams. It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		fmt.Fprintln(stderr, ee.msg)
		return ee.code
	}
	fmt.Fprintln(stderr, "scimbridge:", err)
	return 1
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{code: 2, msg: usage}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		if len(args) >= 2 {
			switch args[1] {
			case "create":
				return tokenCreate(ctx, args[2:], getenv, stdout, stderr)
			case "list", "rotate", "revoke":
				return tokensCommand(ctx, args[1], args[2:], getenv, stdout, stderr)
			}
		}
		return &exitError{code: 2, msg: "usage: scimbridge token create --data PATH (--org ORG (--directory DIR | --admin) | --super) [--name NAME] [--expires 90d]\n" + tokensUsage}
	case "directory":
		if len(args) < 2 || args[1] != "create" {
			return &exitError{code: 2, msg: "usage: scimbridge directory create --data PATH --org ORG --name NAME [--profile generic|okta|entra|google]"}
		}
		return directoryCreate(ctx, args[2:], getenv, stdout, stderr)
	case "conformance":
		return runConformance(ctx, args[1:], getenv, stdout, stderr)
	case "rules":
		return rulesCommand(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "backup":
		return backupCommand(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		return restoreCommand(ctx, args[1:], getenv, stdout, stderr)
	case "compact":
		return compactCommand(ctx, args[1:], getenv, stdout, stderr)
	case "access":
		return accessCommand(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q\n\n%s", args[0], usage)}
}

func openStore(path string) (store.Store, error) {
	return openStoreWith(path, backends["bolt"])
}

func openStoreWith(path string, open func(path string) (store.Store, error)) (store.Store, error) {
	st, err := open(path)
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by another scimbridge process (stop it first, or use another --data): %w", path, err)
	}
	return st, err
}

func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("unknown log level %q", level)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgFile := fs.String("config", "", "YAML config file (env SCIMBRIDGE_CONFIG)")
	cfg := defaultConfig()
	flags := cfg.registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.load(*cfgFile, getenv, flags); err != nil {
		return err
	}
	log, err := newLogger(stderr, cfg.LogLevel)
	if err != nil {
		return err
	}
	if getenv("GOGC") == "" {
		// The live heap is small (the data lives in bbolt's mmap, outside
		// it): trading some of it for half the collections gave 6% more
		// creates and 9% more lookups per second (README, Benchmarks).
		debug.SetGCPercent(200)
	}
	proxies, err := edge.ParseProxies(splitList(cfg.TrustedProxies))
	if err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	metricsAllow, err := edge.ParseAllowlist(splitList(cfg.MetricsAllowCIDRs))
	if err != nil {
		return fmt.Errorf("metrics_allow_cidrs: %w", err)
	}
	m := metrics.New()
	st, err := openStoreWith(cfg.Data, func(path string) (store.Store, error) {
		return bolt.Open(path, bolt.Options{Timeout: time.Second, ObserveTx: m.ObserveStoreTx})
	})
	if err != nil {
		return err
	}
	defer st.Close()
	m.SetOutboxSource(outboxStats(st))
	m.SetTokenSource(tokenStats(st))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	scheme := "http"
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		ln.Close()
		return errors.New("tls.cert_file and tls.key_file go together")
	}
	if cfg.TLSCertFile != "" {
		certs, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log)
		if err != nil {
			ln.Close()
			return err
		}
		ln, scheme = tls.NewListener(ln, tlsConfig(certs)), "https"
	} else if err := checkPlainHTTP(ln.Addr(), cfg.InsecureHTTP); err != nil {
		ln.Close()
		return err
	}
	public := strings.TrimRight(cfg.PublicURL, "/")
	if public == "" {
		public = scheme + "://" + ln.Addr().String()
	}
	if err := bootstrap(ctx, st, public, stdout); err != nil {
		ln.Close()
		return err
	}

	scimServer := scim.New(st, scim.Config{
		BaseURL:            public,
		MaxBodyBytes:       int64(cfg.MaxBodyBytes),
		MaxPageSize:        cfg.MaxPageSize,
		MaxPatchOperations: cfg.MaxPatchOperations,
		Filter: filter.Limits{
			MaxLength: cfg.MaxFilterLength,
			MaxDepth:  cfg.MaxFilterDepth,
			MaxTerms:  cfg.MaxFilterTerms,
		},
	})
	evCfg := events.Config{
		BatchSize:            cfg.EventBatchSize,
		MaxRetryAge:          cfg.EventMaxRetryAge,
		Retention:            cfg.EventRetention,
		SplunkSourceType:     cfg.SplunkSourceType,
		AllowInsecureHTTP:    cfg.AllowInsecureHTTP,
		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
	}
	keyFile := cfg.SSOKeyFile
	if keyFile == "" {
		keyFile = cfg.Data + ".sso-key"
	}
	sealer, err := sso.LoadOrCreateKey(keyFile)
	if err != nil {
		ln.Close()
		return err
	}
	ssoHandler, err := sso.New(sso.Config{
		Store: st, PublicURL: public, Sealer: sealer,
		Log:     log.With().Str("component", "sso").Logger(),
		Observe: m.SSOLogin,
	})
	if err != nil {
		ln.Close()
		return err
	}
	adminServer := admin.New(st, admin.Config{
		PublicURL: public, Profiles: scim.Profiles, Events: evCfg,
		MaxRevokeShare: float64(cfg.MaxRevokePercent) / 100,
		SSO:            ssoHandler,
	})
	srv := &http.Server{
		Handler: handler(log, st, surfaces{
			scim: scimServer, admin: adminServer, sso: ssoHandler, metrics: m,
			gate:         newGate(st, m, proxies, float64(cfg.RateLimit), cfg.RateBurst, log.With().Str("component", "edge").Logger()),
			concurrency:  edge.NewConcurrency(cfg.MaxConcurrentRequests),
			metricsAllow: metricsAllow, proxies: proxies, pprof: cfg.Pprof,
		}),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout, // a 100,000-member group streams for a while
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          nil,
	}
	srv.RegisterOnShutdown(adminServer.Stop)
	log.Info().Str("listen", ln.Addr().String()).Str("data", cfg.Data).Str("public_url", public).Msg("serving")

	// Delivery runs beside the server and stops before the store closes.
	deliveryCtx, stopDelivery := context.WithCancel(context.Background())
	delivered := make(chan error, 1)
	go func() {
		delivered <- events.New(st, evCfg, log.With().Str("component", "events").Logger()).Run(deliveryCtx)
	}()
	defer func() {
		stopDelivery()
		<-delivered
	}()
	// SSO upkeep (metadata refresh, pruning) likewise.
	ssoDone := make(chan struct{})
	go func() {
		defer close(ssoDone)
		ssoHandler.Run(deliveryCtx)
	}()
	defer func() {
		stopDelivery()
		<-ssoDone
	}()
	// Tokens nearing their expiry are announced (token.expiring) hourly.
	expiringDone := make(chan struct{})
	go func() {
		defer close(expiringDone)
		for {
			if n, err := admin.CheckExpiring(deliveryCtx, st, time.Now()); err != nil && deliveryCtx.Err() == nil {
				log.Error().Err(err).Msg("token expiry check failed")
			} else if n > 0 {
				log.Info().Int("tokens", n).Msg("announced tokens nearing their expiry")
			}
			select {
			case <-deliveryCtx.Done():
				return
			case <-time.After(time.Hour):
			}
		}
	}()
	defer func() {
		stopDelivery()
		<-expiringDone
	}()
	// The store's mapped file pages are given back every releaseMappedEvery,
	// so the resident size shows the working set, not the whole file.
	releaseDone := make(chan struct{})
	go func() {
		defer close(releaseDone)
		r, ok := st.(interface{ ReleaseMapped() (int64, error) })
		if !ok {
			return
		}
		for {
			select {
			case <-deliveryCtx.Done():
				return
			case <-time.After(releaseMappedEvery):
			}
			start := time.Now()
			n, err := r.ReleaseMapped()
			if err != nil && deliveryCtx.Err() == nil {
				log.Warn().Err(err).Msg("giving back mapped database pages failed")
			} else if err == nil {
				log.Debug().Int64("mapped_bytes", n).Dur("took", time.Since(start)).Msg("gave back mapped database pages")
			}
		}
	}()
	defer func() {
		stopDelivery()
		<-releaseDone
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down; finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// handler is every HTTP surface of the server behind the request-log
// middleware.
// surfaces are the parts handler puts together.
type surfaces struct {
	scim, admin, sso http.Handler
	metrics          *metrics.Metrics
	gate             *gate
	concurrency      *edge.Concurrency
	metricsAllow     edge.Allowlist
	proxies          edge.Proxies
	pprof            bool
}

// handler is every HTTP surface of the server: each behind its metrics
// and its gate (allowlists, rate limits, audit), all behind the
// concurrency limit and the request-log middleware.
func handler(log zerolog.Logger, st store.Store, s surfaces) http.Handler {
	mux := http.NewServeMux()
	scimRoute := func(r *http.Request) string { return scim.Route(r.URL.EscapedPath()) }
	mux.Handle(scim.PathPrefix, s.metrics.Middleware("scim", scimRoute, s.gate.scim(s.scim)))
	mux.Handle(admin.PathPrefix, s.metrics.Middleware("admin", nil, s.gate.admin(s.admin)))
	mux.Handle(sso.PathPrefix, s.metrics.Middleware("sso", nil, s.gate.sso(s.sso)))
	mux.Handle("GET /metrics", allowlisted(s.metricsAllow, s.proxies, s.metrics.Handler()))
	if s.pprof {
		mux.Handle("/debug/pprof/", allowlisted(s.metricsAllow, s.proxies, http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", allowlisted(s.metricsAllow, s.proxies, http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/trace", allowlisted(s.metricsAllow, s.proxies, http.HandlerFunc(pprof.Trace)))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if p, ok := st.(store.Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				hlog.FromRequest(r).Error().Err(err).Msg("readyz: store is not writable")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "store not writable\n")
				return
			}
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not_found","message":"no such endpoint; the SCIM API is under /scim/v2/{org}/{directory}"}`)
	})
	s.metrics.SetInFlightSource(s.concurrency.InFlight)
	stream := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/admin/v1/orgs/") && strings.HasSuffix(r.URL.Path, "/events/stream")
	}
	limited := s.concurrency.Middleware(mux, stream, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		switch {
		case strings.HasPrefix(r.URL.Path, scim.PathPrefix):
			s.metrics.Refused("scim", metrics.ReasonOverloaded)
			scim.WriteStatus(w, http.StatusServiceUnavailable, "the server is busy; retry after the time in Retry-After")
		case strings.HasPrefix(r.URL.Path, admin.PathPrefix):
			s.metrics.Refused("admin", metrics.ReasonOverloaded)
			admin.WriteError(w, http.StatusServiceUnavailable, "overloaded", "the server is busy; retry after the time in Retry-After")
		default:
			s.metrics.Refused("other", metrics.ReasonOverloaded)
			http.Error(w, "the server is busy; retry later", http.StatusServiceUnavailable)
		}
	})
	route := func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, scim.PathPrefix) {
			return scim.Route(r.URL.EscapedPath())
		}
		return strings.TrimPrefix(r.Pattern, r.Method+" ")
	}
	return reqlog.WrapRoute(log, limited, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, scim.PathPrefix) {
			scim.WritePanic(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, admin.PathPrefix) {
			admin.WritePanic(w, r)
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
	}, route)
}

// bootstrap prepares an empty database: org "default", directory
// "default", one SCIM token and one admin token, printed once. On a
// database that has data it prints where to point an IdP.
func bootstrap(ctx context.Context, st store.Store, public string, stdout io.Writer) error {
	orgs, err := st.Orgs(ctx)
	if err != nil {
		return err
	}
	if len(orgs) > 0 {
		fmt.Fprintln(stdout, "scimbridge is serving. SCIM base URLs (paste into Okta, Entra ID or Google Workspace):")
		for _, o := range orgs {
			dirs, err := st.Directories(ctx, o.Name)
			if err != nil {
				return err
			}
			for _, d := range dirs {
				fmt.Fprintf(stdout, "  %s/%s/%s\n", public, strings.TrimSuffix(scim.PathPrefix, "/")+"/"+d.Org, d.Name)
			}
		}
		fmt.Fprintln(stdout, "Tokens are shown only when created; make another with: scimbridge token create --data PATH --org ORG --directory DIR")
		return nil
	}
	if _, err := st.CreateOrg(ctx, "default"); err != nil {
		return err
	}
	if _, err := st.CreateDirectory(ctx, store.Directory{Org: "default", Name: "default", Profile: "generic"}); err != nil {
		return err
	}
	scimToken, err := newToken(ctx, st, store.TokenSCIM, "default", "default", "first start", time.Time{})
	if err != nil {
		return err
	}
	adminToken, err := newToken(ctx, st, store.TokenAdmin, "default", "", "first start", time.Time{})
	if err != nil {
		return err
	}
	superToken, err := newToken(ctx, st, store.TokenSuper, "", "", "first start", time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `scimbridge is ready (new database: org "default", directory "default").

  SCIM base URL (paste into Okta, Entra ID or Google Workspace):
    %s%sdefault/default
  SCIM bearer token (shown once; store it in the IdP):
    %s
  Admin token for org "default" (shown once):
    %s
  Super-admin token (orgs, backups; shown once; keep it offline):
    %s

  Single sign-on for directory "default":
    SAML SP metadata (entity id): %s/sso/default/default/saml/metadata
    SAML ACS URL:                 %s/sso/default/default/saml/acs
    OIDC redirect URI:            %s/sso/default/default/oidc/callback

`, public, scim.PathPrefix, scimToken, adminToken, superToken, public, public, public)
	return nil
}

func newToken(ctx context.Context, st store.Store, kind store.TokenKind, org, dir, name string, expires time.Time) (string, error) {
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		return "", err
	}
	id, err := store.NewID()
	if err != nil {
		return "", err
	}
	err = st.CreateToken(ctx, store.Token{
		ID: id, Kind: kind, Org: org, Directory: dir, Name: name,
		Prefix: prefix, Hash: hash, Created: time.Now().UTC(), Expires: expires,
	})
	if err != nil {
		return "", fmt.Errorf("create %s token: %w", kind, err)
	}
	return secret, nil
}

// parseExpiry reads "90d", "12h", "30m" (Go durations plus days).
func parseExpiry(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--expires %q: want a positive number of days like 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: want a duration like 90d or 12h", s)
	}
	return d, nil
}

func tokenCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "path of the bbolt database file (env SCIMBRIDGE_DATA; default scimbridge.db)")
	org := fs.String("org", "", "org of the token (required)")
	dir := fs.String("directory", "", "directory of a SCIM token (required unless --admin)")
	admin := fs.Bool("admin", false, "create an admin token for the org instead of a SCIM token")
	super := fs.Bool("super", false, "create a super token (every org, backups) instead: no --org or --directory")
	name := fs.String("name", "", "a name to recognise the token by")
	expires := fs.String("expires", "", "lifetime, like 90d or 12h (default: never expires)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	*data = dataPath(*data, getenv)
	switch {
	case *super && (*org != "" || *dir != "" || *admin):
		return &exitError{code: 2, msg: "token create: --super takes no --org, --directory or --admin"}
	case !*super && (*org == "" || (*dir == "" && !*admin) || (*dir != "" && *admin)):
		return &exitError{code: 2, msg: "token create: give --org and either --directory (SCIM token) or --admin, or --super"}
	}
	var exp time.Time
	if *expires != "" {
		d, err := parseExpiry(*expires)
		if err != nil {
			return &exitError{code: 2, msg: "token create: " + err.Error()}
		}
		exp = time.Now().UTC().Add(d)
	}
	st, err := openStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	kind := store.TokenSCIM
	if *super {
		kind = store.TokenSuper
	} else if *admin {
		kind = store.TokenAdmin
	} else if _, err := st.Directory(ctx, store.DirKey{Org: *org, Directory: *dir}); err != nil {
		return fmt.Errorf("token create: directory %s/%s: %w", *org, *dir, err)
	}
	secret, err := newToken(ctx, st, kind, *org, *dir, *name, exp)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// dataPath is --data, else SCIMBRIDGE_DATA, else the default.
func dataPath(flagValue string, getenv func(string) string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := getenv("SCIMBRIDGE_DATA"); v != "" {
		return v
	}
	return defaultConfig().Data
}

func directoryCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("directory create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "path of the bbolt database file (env SCIMBRIDGE_DATA; default scimbridge.db)")
	org := fs.String("org", "default", "org of the directory")
	name := fs.String("name", "", "name of the directory, as it appears in its SCIM base URL (required)")
	profile := fs.String("profile", scim.ProfileGeneric, "IdP profile: "+strings.Join(scim.Profiles, ", "))
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !admin.ValidName(*name) || !admin.ValidName(*org) {
		return &exitError{code: 2, msg: "directory create: --org and --name must be 1 to 64 letters, digits, '-' or '_'"}
	}
	known := false
	for _, p := range scim.Profiles {
		known = known || p == *profile
	}
	if !known {
		return &exitError{code: 2, msg: fmt.Sprintf("directory create: unknown profile %q; want one of %s", *profile, strings.Join(scim.Profiles, ", "))}
	}
	st, err := openStore(dataPath(*data, getenv))
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.CreateDirectory(ctx, store.Directory{Org: *org, Name: *name, Profile: *profile})
	if err != nil {
		return fmt.Errorf("directory create: %w", err)
	}
	fmt.Fprintf(stdout, "directory %s/%s created (profile %s); SCIM base URL path: %s%s/%s\n", d.Org, d.Name, d.Profile, scim.PathPrefix, d.Org, d.Name)
	fmt.Fprintf(stdout, "create its token with: scimbridge token create --org %s --directory %s\n", d.Org, d.Name)
	return nil
}

// runConformance runs the conformance suite against any SCIM endpoint and
// exits 0 only when no check failed.
func runConformance(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/default/default")
	token := fs.String("token", "", "bearer token of that endpoint")
	profile := fs.String("profile", conformance.ProfileGeneric, "IdP shapes to send: generic, okta, entra, google")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *token == "" {
		return &exitError{code: 2, msg: "conformance: give --url (the SCIM base URL) and --token"}
	}
	sum, err := conformance.Run(ctx, conformance.Config{URL: *url, Token: *token, Profile: *profile, Out: stdout})
	if err != nil {
		return fmt.Errorf("conformance: %w", err)
	}
	if sum.Failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("conformance: %d checks failed", sum.Failed)}
	}
	return nil
}

// releaseMappedEvery is how often serve gives the pages of the database
// file that bbolt's mmap touched back to the kernel's page cache (see
// bolt.DB.ReleaseMapped). It holds the writer for the few milliseconds a
// pass takes.
const releaseMappedEvery = 10 * time.Second

// benchCommand drives SCIM load at any server and reports throughput and
// latency per phase; it exits 1 when any request failed.
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/default/default")
	token := fs.String("token", "", "bearer token of that endpoint")
	workload := fs.String("workload", "sync", strings.Join(loadtest.Workloads, "|"))
	users := fs.Int("users", 0, "users to create or use (default 1000)")
	groups := fs.Int("groups", 0, "groups (sync: users/100; mixed: 10)")
	concurrency := fs.Int("concurrency", 0, "concurrent requests (default 16)")
	duration := fs.Duration("duration", 0, "length of timed phases (default 30s)")
	perPatch := fs.Int("members-per-patch", 0, "members added per group PATCH (default 100)")
	prefix := fs.String("prefix", "", "prefix of the names it creates (default bench-<random>-)")
	cleanup := fs.Bool("cleanup", false, "delete what it created at the end")
	timeout := fs.Duration("timeout", 0, "bound on the whole run (default 1h, plus --duration)")
	rate := fs.Float64("rate", 0, "lookup, patch, mixed: operations per second in total, timed from when each was due (default: as fast as the server answers)")
	probe := fs.Bool("probe", true, "sync: send the userName eq probe before each user create, as Okta and Entra do")
	cpuProfile := fs.String("cpuprofile", "", "write the load tool's own CPU profile to this file (to tell its cost from the server's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *token == "" {
		return &exitError{code: 2, msg: "bench: give --url (the SCIM base URL) and --token"}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := rtpprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer rtpprof.StopCPUProfile()
	}
	rep, err := loadtest.Run(ctx, loadtest.Config{
		URL: *url, Token: *token, Workload: *workload, Users: *users, Groups: *groups,
		Concurrency: *concurrency, Duration: *duration, MembersPerPatch: *perPatch,
		Prefix: *prefix, Cleanup: *cleanup, Timeout: *timeout, Out: stdout,
		Rate: *rate, NoProbe: !*probe,
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if n := rep.Errors(); n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("bench: %d errors", n)}
	}
	return nil
}
