package synth

import (
	"fmt"
	"strings"
)

// Class is a kind of cell in a peripheral blood smear, named as in the
// PBC dataset (Acevedo et al., 2020) and its derivative BloodMNIST.
type Class int

// The classes, in the alphabetical order an ImageFolder gives them.
const (
	Basophil     Class = iota // bilobed nucleus hidden under large dark purple granules
	Eosinophil                // bilobed nucleus, cytoplasm full of orange-red granules
	Erythroblast              // small cell, round very dense nucleus, blue-grey cytoplasm
	IG                        // immature granulocyte: large, oval or kidney nucleus, lilac granular cytoplasm
	Lymphocyte                // small to medium, round dense nucleus, thin sky-blue rim
	Monocyte                  // largest, folded kidney nucleus with lacy chromatin, grey-blue vacuolated cytoplasm
	Neutrophil                // three to five nuclear lobes joined by filaments, pale pink cytoplasm
	Platelet                  // no white cell: a few small purple granular fragments
	numClasses
)

var classNames = [numClasses]string{"basophil", "eosinophil", "erythroblast", "ig", "lymphocyte", "monocyte", "neutrophil", "platelet"}

func (c Class) String() string {
	if c >= 0 && c < numClasses {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// AllClasses returns the eight classes of PBC, in label order.
func AllClasses() []Class {
	cs := make([]Class, numClasses)
	for i := range cs {
		cs[i] = Class(i)
	}
	return cs
}

// ParseClass returns the class with the given name (as Class.String
// writes it; case is ignored).
func ParseClass(name string) (Class, error) {
	for i, n := range classNames {
		if strings.EqualFold(strings.TrimSpace(name), n) {
			return Class(i), nil
		}
	}
	return 0, fmt.Errorf("synth: unknown class %q (known: %s)", name, strings.Join(classNames[:], ", "))
}
