package message
import ("os";"testing";"fmt";"path/filepath";"strings")
func TestDbg(t *testing.T) {
	raw, _ := os.ReadFile(os.Getenv("F"))
	m := Parse(raw, Limits{})
	for _, d := range m.Defects { fmt.Printf("%+v\n", d) }
	for _, pt := range m.Parts { fmt.Printf("%+v\n", pt) }
	fmt.Printf("from=%q to=%q date=%v subj=%q\n", m.From, m.To, m.Date, m.Subject)
}
func TestDbgCode(t *testing.T) {
	code := os.Getenv("CODE")
	filepath.Walk(os.Getenv("DIR"), func(path string, info os.FileInfo, err error) error {
		if info.IsDir() { return nil }
		raw, _ := os.ReadFile(path)
		m := Parse(raw, Limits{})
		for _, d := range m.Defects {
			if d.Code == code {
				fmt.Printf("%s [%s] %q\n", strings.TrimPrefix(path, "/work/shared/corpus/"), d.Part, d.Detail)
			}
		}
		return nil
	})
}
