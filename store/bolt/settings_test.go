package bolt

import (
	"path/filepath"
	"testing"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestSettingsConformance(t *testing.T) {
	storetest.RunSettings(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	})
}

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	})
}
