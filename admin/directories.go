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
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Directory  string     `json:"directory,omitempty"`
	Created    time.Time  `json:"created"`
	LastUsed   *time.Time `json:"last_used,omitempty"` // absent: never used
	Expires    *time.Time `json:"expires,omitempty"`   // absent: never expires
	ReplacedBy string     `json:"replaced_by,omitempty"`
	Token      string     `json:"token,omitempty"` // only in the create and rotate responses
}

func toTokenJSON(t store.Token) tokenJSON {
	j := tokenJSON{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Directory: t.Directory, Created: t.Created, ReplacedBy: t.ReplacedBy}
	if !t.LastUsed.IsZero() {
		u := t.LastUsed
		j.LastUsed = &u
	}
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

// scimScope is the SCIM tokens of the directory of the URL, which must
// exist.
func (s *Server) scimScope(c *request) (tokenScope, error) {
	d, err := s.directory(c)
	if err != nil {
		return tokenScope{}, err
	}
	return tokenScope{kind: store.TokenSCIM, org: c.org, dir: d.Name}, nil
}

// listTokens answers GET .../directories/{dir}/tokens: the directory's
// SCIM tokens (tokens.go has the rest).
func (s *Server) listTokens(c *request) error {
	sc, err := s.scimScope(c)
	if err != nil {
		return err
	}
	return s.listScoped(c, sc)
}

func (s *Server) createToken(c *request) error {
	sc, err := s.scimScope(c)
	if err != nil {
		return err
	}
	return s.createScoped(c, sc)
}

func (s *Server) revokeToken(c *request) error {
	sc, err := s.scimScope(c)
	if err != nil {
		return err
	}
	return s.revokeScoped(c, sc)
}

// rotateToken answers POST .../directories/{dir}/tokens/{token}/rotate.
func (s *Server) rotateToken(c *request) error {
	sc, err := s.scimScope(c)
	if err != nil {
		return err
	}
	return s.rotateScoped(c, sc)
}
