package admin

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/store"
)

type zerologContext = zerolog.Context

type directoryJSON struct {
	Name    string    `json:"name"`
	Profile string    `json:"profile"`
	Created time.Time `json:"created"`
	SCIMURL string    `json:"scim_base_url"`
}

func (s *Server) directoryJSON(d store.Directory) directoryJSON {
	return directoryJSON{Name: d.Name, Profile: d.Profile, Created: d.Created,
		SCIMURL: s.cfg.PublicURL + "/scim/v2/" + d.Org + "/" + d.Name}
}

func (s *Server) listDirectories(c *request) error {
	dirs, err := s.store.Directories(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	out := make([]directoryJSON, 0, len(dirs))
	for _, d := range dirs {
		out = append(out, s.directoryJSON(d))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"directories": out})
	return nil
}

func (s *Server) createDirectory(c *request) error {
	var in struct {
		Name    string `json:"name"`
		Profile string `json:"profile"`
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	if !ValidName(in.Name) {
		return errorf(http.StatusBadRequest, "invalid_request", "name must be 1 to 64 letters, digits, '-' or '_'")
	}
	if in.Profile == "" && len(s.cfg.Profiles) > 0 {
		in.Profile = s.cfg.Profiles[0]
	}
	if !slices.Contains(s.cfg.Profiles, in.Profile) {
		return errorf(http.StatusBadRequest, "invalid_request", "profile must be one of %s", strings.Join(s.cfg.Profiles, ", "))
	}
	d, err := s.store.CreateDirectory(c.r.Context(), store.Directory{Org: c.org, Name: in.Name, Profile: in.Profile})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, s.directoryJSON(d))
	return nil
}

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Directory string     `json:"directory,omitempty"`
	Created   time.Time  `json:"created"`
	Expires   *time.Time `json:"expires,omitempty"`
	Token     string     `json:"token,omitempty"` // only in the create response
}

func toTokenJSON(t store.Token) tokenJSON {
	j := tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Directory: t.Directory, Created: t.Created}
	if !t.Expires.IsZero() {
		e := t.Expires
		j.Expires = &e
	}
	return j
}

// directory checks that the directory of the URL exists in the org.
func (s *Server) directory(c *request) (store.Directory, error) {
	return s.store.Directory(c.r.Context(), store.DirKey{Org: c.org, Directory: c.r.PathValue("dir")})
}

func (s *Server) listTokens(c *request) error {
	d, err := s.directory(c)
	if err != nil {
		return err
	}
	all, err := s.store.Tokens(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	out := []tokenJSON{}
	for _, t := range all {
		if t.Kind == store.TokenSCIM && t.Directory == d.Name {
			out = append(out, toTokenJSON(t))
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) createToken(c *request) error {
	d, err := s.directory(c)
	if err != nil {
		return err
	}
	var in struct {
		Name    string `json:"name"`
		Expires string `json:"expires"` // RFC 3339 time, or empty for never
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	var exp time.Time
	if in.Expires != "" {
		if exp, err = time.Parse(time.RFC3339, in.Expires); err != nil || !exp.After(s.cfg.Now()) {
			return errorf(http.StatusBadRequest, "invalid_request", "expires must be a future RFC 3339 time")
		}
	}
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		return err
	}
	id, err := store.NewID()
	if err != nil {
		return err
	}
	t := store.Token{ID: id, Kind: store.TokenSCIM, Org: c.org, Directory: d.Name, Name: in.Name,
		Prefix: prefix, Hash: hash, Created: s.cfg.Now().UTC(), Expires: exp.UTC()}
	if exp.IsZero() {
		t.Expires = time.Time{}
	}
	if err := s.store.CreateToken(c.r.Context(), t); err != nil {
		return err
	}
	j := toTokenJSON(t)
	j.Token = secret
	writeJSON(c.w, http.StatusCreated, j)
	return nil
}

func (s *Server) revokeToken(c *request) error {
	d, err := s.directory(c)
	if err != nil {
		return err
	}
	all, err := s.store.Tokens(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	id := c.r.PathValue("token")
	for _, t := range all {
		if t.ID == id && t.Kind == store.TokenSCIM && t.Directory == d.Name {
			if err := s.store.DeleteToken(c.r.Context(), id); err != nil {
				return err
			}
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return errNotFound
}
