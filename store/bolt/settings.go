package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

var (
	_ store.Settings = (*DB)(nil)
	_ store.Pinger   = (*DB)(nil)
)

// Edge settings: one top-level bucket "settings", created on first write,
// keyed "dir" 0x00 org 0x00 directory and "org" 0x00 org.
var (
	bucketSettings = []byte("settings")
	keyPing        = []byte("ping")
)

func dirSettingsKey(k store.DirKey) []byte {
	return append(pairKey("dir", k.Org), append([]byte{0}, k.Directory...)...)
}
func orgSettingsKey(org string) []byte { return pairKey("org", org) }

func settingsBucket(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	if b := tx.Bucket(bucketSettings); b != nil || !tx.Writable() {
		return b, nil
	}
	return tx.CreateBucket(bucketSettings)
}

func readSetting(tx *bbolt.Tx, key []byte, dst any) error {
	b, err := settingsBucket(tx)
	if err != nil || b == nil {
		return err
	}
	if v := b.Get(key); v != nil {
		return decode(v, dst)
	}
	return nil
}

func writeSetting(tx *bbolt.Tx, key []byte, v any) error {
	b, err := settingsBucket(tx)
	if err != nil {
		return err
	}
	data, err := encode(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// DirectorySettings reads a directory's edge settings; see store.Settings.
func (db *DB) DirectorySettings(ctx context.Context, k store.DirKey) (store.DirectorySettings, error) {
	var s store.DirectorySettings
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if directoryBucket(tx, k) == nil {
			return errNoDirectory
		}
		return readSetting(tx, dirSettingsKey(k), &s)
	})
	if err != nil {
		return store.DirectorySettings{}, fmt.Errorf("bolt: settings of %s: %w", k, err)
	}
	return s, nil
}

// UpdateDirectorySettings changes a directory's edge settings; see
// store.Settings.
func (db *DB) UpdateDirectorySettings(ctx context.Context, k store.DirKey, fn func(s *store.DirectorySettings) error) (store.DirectorySettings, error) {
	var out store.DirectorySettings
	var fnErr error
	err := db.write(ctx, k.Org, func(tx *bbolt.Tx, ob *outbox) error {
		fnErr = nil
		if directoryBucket(tx, k) == nil {
			return errNoDirectory
		}
		var old store.DirectorySettings
		if err := readSetting(tx, dirSettingsKey(k), &old); err != nil {
			return err
		}
		s := old
		s.AllowCIDRs = append([]string(nil), old.AllowCIDRs...)
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		s.Version, s.Modified = old.Version+1, ob.now
		if err := writeSetting(tx, dirSettingsKey(k), &s); err != nil {
			return err
		}
		data, err := encodeData(&s)
		if err != nil {
			return err
		}
		out = s
		return ob.append(k.Directory, store.EventDirectorySettingsUpdated, resourceRecord{Type: store.ResourceDirectory, ID: k.Directory}, data, nil)
	})
	if fnErr != nil {
		return store.DirectorySettings{}, fnErr
	}
	if err != nil {
		return store.DirectorySettings{}, fmt.Errorf("bolt: update settings of %s: %w", k, err)
	}
	return out, nil
}

// OrgSettings reads an org's edge settings; see store.Settings.
func (db *DB) OrgSettings(ctx context.Context, org string) (store.OrgSettings, error) {
	var s store.OrgSettings
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketOrgs).Get([]byte(org)) == nil {
			return errNoOrg
		}
		return readSetting(tx, orgSettingsKey(org), &s)
	})
	if err != nil {
		return store.OrgSettings{}, fmt.Errorf("bolt: settings of org %s: %w", org, err)
	}
	return s, nil
}

// UpdateOrgSettings changes an org's edge settings; see store.Settings.
func (db *DB) UpdateOrgSettings(ctx context.Context, org string, fn func(s *store.OrgSettings) error) (store.OrgSettings, error) {
	var out store.OrgSettings
	var fnErr error
	err := db.write(ctx, org, func(tx *bbolt.Tx, ob *outbox) error {
		fnErr = nil
		if tx.Bucket(bucketOrgs).Get([]byte(org)) == nil {
			return errNoOrg
		}
		var old store.OrgSettings
		if err := readSetting(tx, orgSettingsKey(org), &old); err != nil {
			return err
		}
		s := old
		s.AdminAllowCIDRs = append([]string(nil), old.AdminAllowCIDRs...)
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		s.Version, s.Modified = old.Version+1, ob.now
		if err := writeSetting(tx, orgSettingsKey(org), &s); err != nil {
			return err
		}
		data, err := encodeData(&s)
		if err != nil {
			return err
		}
		out = s
		return ob.append("", store.EventOrgSettingsUpdated, resourceRecord{Type: store.ResourceOrg, ID: org}, data, nil)
	})
	if fnErr != nil {
		return store.OrgSettings{}, fnErr
	}
	if err != nil {
		return store.OrgSettings{}, fmt.Errorf("bolt: update settings of org %s: %w", org, err)
	}
	return out, nil
}

// Ping commits a write (a counter in the meta bucket) through the group
// commit, so it proves that the file is open, writable and fsyncs.
func (db *DB) Ping(ctx context.Context) error {
	err := db.write(ctx, "", func(tx *bbolt.Tx, _ *outbox) error {
		meta := tx.Bucket(bucketMeta)
		return meta.Put(keyPing, encodeUint(decodeUint(meta.Get(keyPing))+1))
	})
	if err != nil {
		return fmt.Errorf("bolt: ping: %w", err)
	}
	return nil
}

var _ store.Auditor = (*DB)(nil)

// AppendAudit appends an event with no other change; see store.Auditor.
func (db *DB) AppendAudit(ctx context.Context, org, directory, typ string, res store.ResourceRef, data json.RawMessage) error {
	err := db.write(ctx, org, func(tx *bbolt.Tx, ob *outbox) error {
		if org != "" && tx.Bucket(bucketOrgs).Get([]byte(org)) == nil {
			return errNoOrg
		}
		var d eventData
		if len(data) > 0 {
			c, err := compactJSON(data)
			if err != nil {
				return err
			}
			d = rawData(c)
		}
		return ob.append(directory, typ, resourceRecord{Type: res.Type, ID: res.ID}, d, nil)
	})
	if err != nil {
		return fmt.Errorf("bolt: append %s to %q: %w", typ, org, err)
	}
	return nil
}
