package data

import (
	"fmt"
	"slices"
	"strings"
)

// MedMNISTRecord is the base URL of the Zenodo record that publishes the
// MedMNIST v2 and MedMNIST+ archives (28, 64, 128 and 224 px).
const MedMNISTRecord = "https://zenodo.org/records/10519652/files"

// MedMNISTSet describes one 2-D MedMNIST dataset.
type MedMNISTSet struct {
	Name       string         // e.g. "bloodmnist"
	Channels   int            // 1 or 3
	MultiLabel bool           // ChestMNIST
	Classes    []string       // class names by index
	Samples    [3]int         // train, val, test
	MD5        map[int]string // MD5 of the archive by image size
}

// File returns the archive's file name for an image size: bloodmnist.npz
// for 28, bloodmnist_64.npz for 64, ...
func (s MedMNISTSet) File(size int) string {
	if size == 28 {
		return s.Name + ".npz"
	}
	return fmt.Sprintf("%s_%d.npz", s.Name, size)
}

// MedMNISTSizes are the image sizes MedMNIST+ publishes.
var MedMNISTSizes = []int{28, 64, 128, 224}

// MedMNIST looks a set up by name (case-insensitive).
func MedMNIST(name string) (MedMNISTSet, error) {
	s, ok := medmnistSets[strings.ToLower(name)]
	if !ok {
		return s, fmt.Errorf("data: unknown MedMNIST set %q (known: %s)", name, strings.Join(MedMNISTNames(), ", "))
	}
	return s, nil
}

// MedMNISTNames lists the known sets in sorted order.
func MedMNISTNames() []string {
	var names []string
	for n := range medmnistSets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// The table below follows the MedMNIST package's info.py for Zenodo record
// 10519652 (MedMNIST+); the checksums are the published MD5s.
var medmnistSets = func() map[string]MedMNISTSet {
	organs := []string{"bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right",
		"liver", "lung-left", "lung-right", "pancreas", "spleen"}
	sets := []MedMNISTSet{
		{Name: "pathmnist", Channels: 3, Samples: [3]int{89996, 10004, 7180},
			Classes: []string{"adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
				"normal colon mucosa", "cancer-associated stroma", "colorectal adenocarcinoma epithelium"},
			MD5: md5s("a8b06965200029087d5bd730944a56c1", "55aa9c1e0525abe5a6b9d8343a507616",
				"ac42d08fb904d92c244187169d1fd1d9", "2c51a510bcdc9cf8ddb2af93af1eadec")},
		{Name: "chestmnist", Channels: 1, MultiLabel: true, Samples: [3]int{78468, 11219, 22433},
			Classes: []string{"atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule",
				"pneumonia", "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"},
			MD5: md5s("02c8a6516a18b556561a56cbdd36c4a8", "9de6cd0b934ebb5b7426cfba5efbae16",
				"db107e5590b27930b62dbaf558aebee3", "45bd33e6f06c3e8cdb481c74a89152aa")},
		{Name: "dermamnist", Channels: 3, Samples: [3]int{7007, 1003, 2005},
			Classes: []string{"actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
				"benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions"},
			MD5: md5s("0744692d530f8e62ec473284d019b0c7", "b70a2f5635c6199aeaa28c31d7202e1f",
				"2defd784463fa5243564e855ed717de1", "8974907d8e169bef5f5b96bc506ae45d")},
		{Name: "octmnist", Channels: 1, Samples: [3]int{97477, 10832, 1000},
			Classes: []string{"choroidal neovascularization", "diabetic macular edema", "drusen", "normal"},
			MD5: md5s("c68d92d5b585d8d81f7112f81e2d0842", "e229e9440236b774d9f0dfef9d07bdaf",
				"0a97e76651ace45c5d943ee3f65b63ae", "abc493b6d529d5de7569faaef2773ba3")},
		{Name: "pneumoniamnist", Channels: 1, Samples: [3]int{4708, 524, 624},
			Classes: []string{"normal", "pneumonia"},
			MD5: md5s("28209eda62fecd6e6a2d98b1501bb15f", "8f4eceb4ccffa70c672198ea285246c6",
				"05b46931834c231683c68f40c47b2971", "d6a3c71de1b945ea11211b03746c1fe1")},
		{Name: "retinamnist", Channels: 3, Samples: [3]int{1080, 120, 400},
			Classes: []string{"0", "1", "2", "3", "4"},
			MD5: md5s("bd4c0672f1bba3e3a89f0e4e876791e4", "afda852cc34dcda56f86ad2b2457dbcc",
				"e48e916a24454daf90583d4e6efb1a18", "eae7e3b6f3fcbda4ae613ebdcbe35348")},
		{Name: "breastmnist", Channels: 1, Samples: [3]int{546, 78, 156},
			Classes: []string{"malignant", "normal, benign"},
			MD5: md5s("750601b1f35ba3300ea97c75c52ff8f6", "742edef2a1fd1524b2efff4bd7ba9364",
				"363e4b3f8d712e9b5de15470a2aaadf1", "b56378a6eefa9fed602bb16d192d4c8b")},
		{Name: "bloodmnist", Channels: 3, Samples: [3]int{11959, 1712, 3421},
			Classes: []string{"basophil", "eosinophil", "erythroblast", "immature granulocytes",
				"lymphocyte", "monocyte", "neutrophil", "platelet"},
			MD5: md5s("7053d0359d879ad8a5505303e11de1dc", "2b94928a2ae4916078ca51e05b6b800b",
				"adace1e0ed228fccda1f39692059dd4c", "b718ff6835fcbdb22ba9eacccd7b2601")},
		{Name: "tissuemnist", Channels: 1, Samples: [3]int{165466, 23640, 47280},
			Classes: []string{"collecting duct, connecting tubule", "distal convoluted tubule",
				"glomerular endothelial cells", "interstitial endothelial cells", "leukocytes", "podocytes",
				"proximal tubule segments", "thick ascending limb"},
			MD5: md5s("ebe78ee8b05294063de985d821c1c34b", "123ece2eba09d0aa5d698fda57103344",
				"61b955355d7425a89687b06cca3ce0c2", "b077128c4a949f0a4eb01517f9037b9c")},
		{Name: "organamnist", Channels: 1, Samples: [3]int{34561, 6491, 17778}, Classes: organs,
			MD5: md5s("68e3f8846a6bd62f0c9bf841c0d9eacc", "2dcccc29b88e6da5a01161ef20cda288",
				"eeae80d0a227a8d099027e1b3cfd3b60", "50747347e05c87dd3aaf92c49f9f3170")},
		{Name: "organcmnist", Channels: 1, Samples: [3]int{12975, 2392, 8216}, Classes: organs,
			MD5: md5s("b9ceb9546e10131b32923c5bbeaea2b1", "3ce34a8724ea6f548e6db4744d03b6a9",
				"773c1f009daa3fe5d9a2a201b2a7ed94", "050f5e875dc056f6768abf94ec9995d1")},
		{Name: "organsmnist", Channels: 1, Samples: [3]int{13932, 2452, 8827}, Classes: organs,
			MD5: md5s("9ab87b696fb54e2a387ebe992d6ed5f1", "53a6d115339d874c25e309a994ff46d3",
				"ded0c5fa01a95dc4978b956f613e9b8e", "b354719e553fbbb2513d5533f52a4cb1")},
	}
	m := map[string]MedMNISTSet{}
	for _, s := range sets {
		m[s.Name] = s
	}
	return m
}()

func md5s(s28, s64, s128, s224 string) map[int]string {
	return map[int]string{28: s28, 64: s64, 128: s128, 224: s224}
}
