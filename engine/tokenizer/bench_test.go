package tokenizer

import (
	"path/filepath"
	"sync"
	"testing"
)

// The benchmarks encode every text of the fortunes training set (2,719
// texts, ~410 KB) per op, as the featurizer does for a table, and report
// tokens/s. Run: go test -run '^$' -bench . -count 5 ./engine/tokenizer/

func benchEncode(b *testing.B, model string, workers int, cold bool) {
	tok := testTokenizer(b, model)
	texts := fortunes(b)
	tokens, size := 0, 0
	for _, s := range texts {
		tokens += len(encode(b, tok, s, Options{AddSpecial: true}).IDs)
		size += len(s)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if cold { // an empty BPE word cache
			b.StopTimer()
			fresh, err := Load(filepath.Join(testdata, "models", model))
			if err != nil {
				b.Fatal(err)
			}
			tok = fresh
			b.StartTimer()
		}
		if workers == 1 {
			for _, s := range texts {
				if _, err := tok.Encode(s, Options{AddSpecial: true}); err != nil {
					b.Fatal(err)
				}
			}
			continue
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(texts); i += workers {
					if _, err := tok.Encode(texts[i], Options{AddSpecial: true}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(tokens)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(texts)), "ns/text")
}

func BenchmarkEncodeBERT(b *testing.B)          { benchEncode(b, "bert-tiny", 1, false) }
func BenchmarkEncodeGPT2(b *testing.B)          { benchEncode(b, "gpt2-tiny", 1, false) }
func BenchmarkEncodeRoBERTa(b *testing.B)       { benchEncode(b, "roberta-tiny", 1, false) }
func BenchmarkEncodeGPT2ColdCache(b *testing.B) { benchEncode(b, "gpt2-tiny", 1, true) }
func BenchmarkEncodeBERTParallel(b *testing.B)  { benchEncode(b, "bert-tiny", 2, false) }
func BenchmarkEncodeGPT2Parallel(b *testing.B)  { benchEncode(b, "gpt2-tiny", 2, false) }

func BenchmarkLoad(b *testing.B) {
	for _, model := range []string{"bert-tiny", "gpt2-tiny"} {
		b.Run(model, func(b *testing.B) {
			for range b.N {
				if _, err := Load(filepath.Join(testdata, "models", model)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
