package cuda

import "testing"

func TestParseDeviceSpec(t *testing.T) {
	good := map[string]DeviceSpec{
		"cuda":                         {Precision: FP16},
		"cuda:":                        {Precision: FP16},
		"cuda:bf16":                    {Precision: BF16},
		"cuda:fp32,nocublas":           {Precision: FP32, DisableCublas: true},
		"cuda:gpu=1,fp16":              {Device: 1, Precision: FP16},
		"cuda:budget=8GiB":             {Precision: FP16, MemoryBudget: 8 << 30},
		"cuda:budget=512MiB,bf16":      {Precision: BF16, MemoryBudget: 512 << 20},
		"cuda:budget=4096":             {Precision: FP16, MemoryBudget: 4096},
		"cuda: bf16 , gpu=2 ,nocublas": {Device: 2, Precision: BF16, DisableCublas: true},
		"cuda:bf16,nolt":               {Precision: BF16, DisableLt: true},
	}
	for s, want := range good {
		got, err := ParseDeviceSpec(s)
		if err != nil || got != want {
			t.Errorf("ParseDeviceSpec(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"cpu", "cudax", "cuda:fp8", "cuda:gpu=-1", "cuda:gpu=x", "cuda:budget=1TB",
		"cuda:budget=-5", "cuda:nocublas=1", "cuda:nolt=1", "cuda:bf16=1", "cuda:budget=99999999999GiB"} {
		if _, err := ParseDeviceSpec(s); err == nil {
			t.Errorf("ParseDeviceSpec(%q) accepted", s)
		}
	}
	if !IsDeviceSpec("cuda:bf16") || IsDeviceSpec("cudaa") || IsDeviceSpec("cpu") {
		t.Error("IsDeviceSpec")
	}
}
