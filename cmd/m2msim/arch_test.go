package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/m2msim/m2msim/"

// allowed lists, per package prefix, which project packages it may
// import. Transports know nothing of the engine; the engine knows nothing
// of transports; only scenarios (and cmd) see both.
var allowed = map[string][]string{
	"sim":             {},
	"report":          {"sim", "internal/"},
	"report/capacity": {}, // the knee and the fit: numbers in, numbers out
	"report/render":   {"sim", "report", "report/capacity"},
	"transports":      {"transports/", "internal/"},
	"scenarios":       {"sim", "report", "transports/", "internal/"},
	"web":             {"sim", "report"},
	"cmd":             {""},
	"internal":        {}, // small leaves any package may use
	// A test server runner may keep its server's log with a leaf.
	"internal/nginxtest": {"internal/tail"},
	"bench":              {""}, // measurement programs, leaves like cmd
}

type pkgFiles struct {
	dir   string
	files []*ast.File
}

// sources parses every non-test Go file of the project, by directory.
func sources(t *testing.T) map[string]*pkgFiles {
	t.Helper()
	root := "../.."
	fset := token.NewFileSet()
	pkgs := map[string]*pkgFiles{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if pkgs[rel] == nil {
			pkgs[rel] = &pkgFiles{dir: rel}
		}
		pkgs[rel].files = append(pkgs[rel].files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// mayImport says whether package from may import to, by the rule of the
// longest prefix in allowed that covers from.
func mayImport(from, to string) bool {
	rule := ""
	for prefix := range allowed {
		if (from == prefix || strings.HasPrefix(from, prefix+"/")) && len(prefix) > len(rule) {
			rule = prefix
		}
	}
	if rule == "" {
		return false
	}
	for _, a := range allowed[rule] {
		if a == "" || to == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(to, a)) {
			return true
		}
	}
	return false
}

func TestImportEdges(t *testing.T) {
	for dir, p := range sources(t) {
		for _, f := range p.files {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				to, ok := strings.CutPrefix(path, module)
				if !ok || to == dir {
					continue
				}
				if !mayImport(dir, to) {
					t.Errorf("%s imports %s: not an allowed edge (see allowed)", dir, to)
				}
			}
		}
	}
}

func TestExportedNamesDocumented(t *testing.T) {
	for dir, p := range sources(t) {
		if strings.HasPrefix(dir, "cmd/") || strings.HasPrefix(dir, "bench") {
			continue
		}
		hasPkgDoc := false
		for _, f := range p.files {
			hasPkgDoc = hasPkgDoc || f.Doc != nil
			for _, miss := range undocumented(f) {
				t.Errorf("%s: exported %s has no doc comment starting with its name", dir, miss)
			}
		}
		if !hasPkgDoc {
			t.Errorf("%s: no package comment", dir)
		}
	}
}

func undocumented(f *ast.File) []string {
	var miss []string
	startsWith := func(doc *ast.CommentGroup, name string) bool {
		if doc == nil {
			return false
		}
		text := strings.TrimLeft(doc.Text(), " ")
		return strings.HasPrefix(text, name) || strings.HasPrefix(text, "A "+name) || strings.HasPrefix(text, "An ")
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || (d.Recv != nil && !exportedRecv(d.Recv)) {
				continue
			}
			if !startsWith(d.Doc, d.Name.Name) {
				miss = append(miss, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					doc := s.Doc
					if doc == nil && len(d.Specs) == 1 {
						doc = d.Doc
					}
					if s.Name.IsExported() && !startsWith(doc, s.Name.Name) {
						miss = append(miss, s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && d.Doc == nil && s.Comment == nil {
							miss = append(miss, n.Name)
						}
					}
				}
			}
		}
	}
	return miss
}

func exportedRecv(fl *ast.FieldList) bool {
	t := fl.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.Ident:
			return x.IsExported()
		default:
			return true
		}
	}
}
