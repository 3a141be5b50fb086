package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes caps a configuration file; a larger one is refused rather
// than read into memory.
const MaxFileBytes = 4 << 20

// Load reads, expands, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, MaxFileBytes)
	}
	c, err := Parse(b, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration document strictly, expands ${VAR} references
// in secret fields through lookup, fills defaults and validates. An unknown
// key is an error naming its path, e.g. `endpoints[1].timeouts.frist_token`.
func Parse(b []byte, lookup func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	if len(root.Content) == 0 {
		return nil, errors.New("empty document")
	}
	doc := root.Content[0]
	paths := map[int]string{}
	if err := checkKeys(doc, reflect.TypeFor[Config](), "", paths); err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, withPaths(err, paths)
	}
	if err := c.expandSecrets(lookup); err != nil {
		return nil, err
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkKeys walks a YAML mapping against the struct type it decodes into and
// reports the first key the type does not have, with its full path and line.
// yaml.v3's KnownFields names the key and line but not the path, and in a
// list of endpoints the path is what tells an operator which one is wrong.
// It also records the path of every value by line, so that type errors,
// which yaml.v3 reports by line only, can name the key too.
func checkKeys(n *yaml.Node, t reflect.Type, path string, paths map[int]string) error {
	if path != "" {
		paths[n.Line] = path // deeper keys visit later and win a shared line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t.PkgPath() == "time" {
			return nil // a type error; the decoder reports it
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			p := joinPath(path, k.Value)
			if !ok {
				return fmt.Errorf("line %d: unknown key %s", k.Line, p)
			}
			if err := checkKeys(v, f, p, paths); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, v := range n.Content {
			if err := checkKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), paths); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), paths); err != nil {
				return err
			}
		}
	}
	return nil
}

var lineRef = regexp.MustCompile(`^line (\d+): `)

// withPaths rewrites yaml.v3's "line N: cannot unmarshal …" messages to name
// the key at that line as well.
func withPaths(err error, paths map[int]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = m
		if sm := lineRef.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			if p, ok := paths[line]; ok {
				msgs[i] = p + " (" + strings.TrimSuffix(sm[0], ": ") + "): " + m[len(sm[0]):]
			}
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${VAR} and ${VAR:-default} in s. A variable that is unset
// and has no default is an error: a missing secret must fail at start-up,
// not as 401s from upstream at the first request.
func expand(s, path string, lookup func(string) (string, bool)) (string, error) {
	var err error
	out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := lookup(m[1]); ok {
			return v
		}
		if m[2] != "" {
			return m[3]
		}
		if err == nil {
			err = fmt.Errorf("%s: environment variable %s is not set", path, m[1])
		}
		return ""
	})
	return out, err
}

// expandSecrets expands environment references in the fields that hold
// secrets or vary per deployment: URLs, keys, headers, DSNs and tenant key
// hashes. Other fields (prompts above all) are taken literally.
func (c *Config) expandSecrets(lookup func(string) (string, bool)) error {
	var errs []error
	exp := func(p *string, path string) {
		v, err := expand(*p, path, lookup)
		*p = v
		errs = append(errs, err)
	}
	exp(&c.Listen, "listen")
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		base := "endpoints[" + strconv.Itoa(i) + "]"
		exp(&e.BaseURL, base+".base_url")
		exp(&e.APIKey, base+".api_key")
		for k, v := range e.Headers {
			exp(&v, base+".headers."+k)
			e.Headers[k] = v
		}
	}
	for i := range c.Tools {
		t := &c.Tools[i]
		base := "tools[" + strconv.Itoa(i) + "]"
		exp(&t.URL, base+".url")
		for k, v := range t.Headers {
			exp(&v, base+".headers."+k)
			t.Headers[k] = v
		}
	}
	for i := range c.MCPServers {
		m := &c.MCPServers[i]
		base := "mcp_servers[" + strconv.Itoa(i) + "]"
		exp(&m.URL, base+".url")
		for k, v := range m.Headers {
			exp(&v, base+".headers."+k)
			m.Headers[k] = v
		}
		for j := range m.Env {
			exp(&m.Env[j], fmt.Sprintf("%s.env[%d]", base, j))
		}
	}
	exp(&c.Sessions.RedisURL, "sessions.redis_url")
	exp(&c.Sessions.PostgresDSN, "sessions.postgres_dsn")
	exp(&c.Queue.URL, "queue.url")
	exp(&c.Async.WebhookSecret, "async.webhook_secret")
	exp(&c.Cluster.RedisURL, "cluster.redis_url")
	exp(&c.Cluster.AdvertiseURL, "cluster.advertise_url")
	exp(&c.Cluster.Secret, "cluster.secret")
	exp(&c.Usage.PostgresDSN, "usage.postgres_dsn")
	exp(&c.Handoff.PostgresDSN, "handoff.postgres_dsn")
	exp(&c.Handoff.WebhookURL, "handoff.webhook_url")
	exp(&c.Handoff.WebhookSecret, "handoff.webhook_secret")
	for i := range c.Tenants {
		for j := range c.Tenants[i].Keys {
			exp(&c.Tenants[i].Keys[j], fmt.Sprintf("tenants[%d].keys[%d]", i, j))
		}
	}
	return errors.Join(errs...)
}
