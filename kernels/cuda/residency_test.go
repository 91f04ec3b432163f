package cuda

import (
	"reflect"
	"testing"
)

func TestResidencyLRU(t *testing.T) {
	r := newResidency[string](100)
	r.insert("base", 60, 1)
	r.insert("a", 20, 2)
	r.insert("b", 20, 3)
	if r.used != 100 {
		t.Fatalf("used %d", r.used)
	}
	r.touch("base", 4) // the base weights, used by every pass
	// 30 more bytes at op 5: the least recently used adapters go, a first.
	if got := r.victims(30, 5); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("victims(30) = %v", got)
	}
	if got := r.victims(10, 5); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("victims(10) = %v", got)
	}
	r.remove("a")
	if r.used != 80 || len(r.items) != 2 {
		t.Fatalf("after remove: used %d, %d items", r.used, len(r.items))
	}
}

func TestResidencyInUseAndPinned(t *testing.T) {
	r := newResidency[string](100)
	r.insert("w1", 50, 7)
	r.insert("w2", 50, 6)
	r.pin("w2") // written on the device: its host copy is stale
	// Op 7 uses w1; w2 is pinned: nothing can go, the caller goes over budget.
	if got := r.victims(10, 7); len(got) != 0 {
		t.Fatalf("victims = %v, want none", got)
	}
	if got := r.evictable(8); !reflect.DeepEqual(got, []string{"w1"}) {
		t.Fatalf("evictable(8) = %v", got)
	}
}

func TestResidencyNoBudget(t *testing.T) {
	r := newResidency[int](0)
	for i := range 10 {
		r.insert(i, 1<<30, uint64(i))
	}
	if got := r.victims(1<<40, 100); got != nil {
		t.Fatalf("no budget evicted %v", got)
	}
	if got := r.evictable(5); !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("evictable(5) = %v", got)
	}
}
