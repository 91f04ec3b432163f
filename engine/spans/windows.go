package spans

// Window is a run of content tokens [Start, End) labelled in one pass.
type Window struct{ Start, End int }

// Windows cuts n tokens into windows of at most size tokens that overlap by
// about half a window, so that every token (except near the text's ends) is
// seen with context on both sides. A text that fits is one window. n = 0 is
// one empty window.
func Windows(n, size int) []Window {
	if size <= 0 {
		size = 1
	}
	if n <= size {
		return []Window{{0, n}}
	}
	stride := max(size/2, 1)
	var out []Window
	for start := 0; ; start += stride {
		end := min(start+size, n)
		out = append(out, Window{start, end})
		if end == n {
			break
		}
	}
	return out
}

// Owners says, for each of the n tokens, which window's prediction to keep
// and at which position of that window: the window where the token is most
// central (farthest from the window's nearer edge; a text edge counts as no
// edge), the earlier one on ties.
func Owners(ws []Window, n int) (win, pos []int) {
	win, pos = make([]int, n), make([]int, n)
	for t := 0; t < n; t++ {
		best, bestD := -1, -1
		for w, x := range ws {
			if t < x.Start || t >= x.End {
				continue
			}
			left, right := t-x.Start, x.End-1-t
			if x.Start == 0 {
				left = n
			}
			if x.End == n {
				right = n
			}
			if d := min(left, right); d > bestD {
				best, bestD = w, d
			}
		}
		win[t], pos[t] = best, t-ws[best].Start
	}
	return win, pos
}
