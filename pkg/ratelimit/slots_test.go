package ratelimit_test

import (
	"sync"
	"testing"

	"github.com/feedbackd/feedbackd/pkg/ratelimit"
)

func TestSlotsCapEachKeyAndFreeOnRelease(t *testing.T) {
	s := ratelimit.NewSlots(2)
	r1, ok1 := s.Acquire("a")
	r2, ok2 := s.Acquire("a")
	if !ok1 || !ok2 {
		t.Fatal("the first two slots were refused")
	}
	if _, ok := s.Acquire("a"); ok {
		t.Fatal("a third slot was given")
	}
	if _, ok := s.Acquire("b"); !ok {
		t.Fatal("another key was refused")
	}
	r1()
	r1() // twice frees one slot
	if s.InUse("a") != 1 {
		t.Fatalf("in use %d, want 1", s.InUse("a"))
	}
	r3, ok := s.Acquire("a")
	if !ok {
		t.Fatal("a freed slot was refused")
	}
	r2()
	r3()
	if s.InUse("a") != 0 {
		t.Fatalf("in use %d after every release", s.InUse("a"))
	}
}

func TestSlotsWithoutCap(t *testing.T) {
	s := ratelimit.NewSlots(0)
	for range 1000 {
		if _, ok := s.Acquire("a"); !ok {
			t.Fatal("refused without a cap")
		}
	}
	if s.Max() != 0 {
		t.Fatal(s.Max())
	}
}

func TestSlotsNeverExceedTheCapUnderContention(t *testing.T) {
	s := ratelimit.NewSlots(5)
	var mu sync.Mutex
	held, most := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 200 {
				release, ok := s.Acquire("k")
				if !ok {
					continue
				}
				mu.Lock()
				held++
				most = max(most, held)
				mu.Unlock()
				mu.Lock()
				held--
				mu.Unlock()
				release()
			}
		})
	}
	wg.Wait()
	if most > 5 || s.InUse("k") != 0 {
		t.Fatalf("at most %d held at once, %d left", most, s.InUse("k"))
	}
}
