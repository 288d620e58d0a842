package admin

import (
	"net/http"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

type userJSON struct {
	ID          string    `json:"id"`
	Directory   string    `json:"directory"`
	UserName    string    `json:"userName"`
	ExternalID  string    `json:"externalId,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	Active      bool      `json:"active"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"lastModified"`
}

// findUsers answers GET /users?userName=NAME: the people of every
// directory of the org with that userName (under the store's fold), so an
// admin can go from a name to the SCIM id.
func (s *Server) findUsers(c *request) error {
	name := c.r.URL.Query().Get("userName")
	if name == "" {
		return errorf(http.StatusBadRequest, "invalid_request", "give ?userName=NAME")
	}
	dirs, err := s.store.Directories(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	out := []userJSON{}
	for _, d := range dirs {
		page, err := s.store.ListUsers(c.r.Context(), d.Key(), store.Query{
			Plan:  &store.Plan{Op: store.PlanLookup, Field: store.FieldUserName, Value: name},
			Count: 10,
		})
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			out = append(out, userJSON{ID: u.ID, Directory: d.Name, UserName: u.UserName, ExternalID: u.ExternalID,
				DisplayName: u.DisplayName, Active: u.Active, Created: u.Created, Modified: u.Modified})
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"users": out})
	return nil
}
