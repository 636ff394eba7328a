package metrics

import "testing"

func TestRegistryServesBuildInfo(t *testing.T) {
	families, err := New().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "switchboard_build_info" {
			if v := f.GetMetric()[0].GetGauge().GetValue(); v != 1 {
				t.Errorf("switchboard_build_info = %v, want 1", v)
			}
			return
		}
	}
	t.Error("switchboard_build_info is not registered on the node's registry")
}
