package main

import (
	"fmt"
	"os"
	"path"
	"strings"

	"sigs.k8s.io/yaml"
)

// image is one row of the image table: what a container of that image runs.
type image struct {
	// Image is a repository ("ghcr.io/pgwarden/postgres"); a row matches any tag.
	Image string `json:"image"`
	// Entrypoint is used when the container names no command ({bin} is the
	// directory of the pgwarden binary under test).
	Entrypoint []string `json:"entrypoint"`
	// Path is prepended to PATH. "{tag}" becomes the image's tag, so one row
	// serves every PostgreSQL major.
	Path []string `json:"path"`
	// Env is added to the container's environment (the image's ENV).
	Env map[string]string `json:"env"`
	// Users are the image's /etc/passwd entries beyond root.
	Users []imageUser `json:"users"`
}

type imageUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	Home string `json:"home"`
}

type imageTable struct {
	Images []image `json:"images"`
}

func loadImages(file string) (*imageTable, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var t imageTable
	if err := yaml.UnmarshalStrict(data, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &t, nil
}

// splitImage returns repository and tag ("latest" when none; a digest counts as a tag).
func splitImage(ref string) (string, string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// lookup finds the row of an image reference; an unknown image is an error the
// pod shows as ErrImagePull, as the real kubelet would.
func (t *imageTable) lookup(ref string) (*image, string, error) {
	repo, tag := splitImage(ref)
	for i := range t.Images {
		if t.Images[i].Image == repo {
			return &t.Images[i], tag, nil
		}
	}
	return nil, "", fmt.Errorf("image %q is not in the test bed's image table", ref)
}

// expand substitutes the table's placeholders.
func expand(s, tag string) string {
	s = strings.ReplaceAll(s, "{tag}", tag)
	if exe, err := os.Executable(); err == nil {
		s = strings.ReplaceAll(s, "{kubelet}", path.Dir(exe))
	}
	if b := os.Getenv("PGW_TESTBED_PGWARDEN"); b != "" {
		s = strings.ReplaceAll(s, "{pgwarden}", b)
	}
	if r := os.Getenv("PGW_TESTBED_ROOT"); r != "" {
		s = strings.ReplaceAll(s, "{root}", r)
	}
	return s
}
