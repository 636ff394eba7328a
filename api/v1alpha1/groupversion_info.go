// Package v1alpha1 contains the SignalingCluster API of the signaling.switchboard.dev group.
// +kubebuilder:object:generate=true
// +groupName=signaling.switchboard.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "signaling.switchboard.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme (apimachinery's
	// builder: an API package should not depend on controller-runtime).
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &SignalingCluster{}, &SignalingClusterList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
