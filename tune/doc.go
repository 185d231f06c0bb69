// Package tune searches hyperparameters for package train: random search
// and grid search as KerasTuner's RandomSearch and GridSearch do, and
// asynchronous successive halving (ASHA), the rule of Optuna's
// SuccessiveHalvingPruner, which stops poor trials early.
//
// A search space (Space, read from JSON by ParseSpace) names train.Config
// fields and gives each a distribution:
//
//	{
//	  "lr":              {"log": [1e-4, 1e-2]},
//	  "weight_decay":    {"log": [1e-3, 0.1]},
//	  "batch":           {"choice": [64, 128]},
//	  "model":           {"choice": ["cellnet", "resnet18-medmnist"]},
//	  "dropout":         {"uniform": [0, 0.3]},
//	  "augment":         {"choice": ["light", "standard", "strong"]},
//	  "label_smoothing": {"uniform": [0, 0.2]},
//	  "epochs":          {"int": [6, 15]}
//	}
//
// Random search draws each trial from a stream of its own, seeded by the
// search's seed and the trial's number, so the same seed gives the same
// trials. Grid search takes the Cartesian product of the choices and of
// GridPoints evenly spaced values of every range (geometrically spaced
// for log ranges). ASHA samples as random search does and judges every
// trial at rungs of MinEpochs·Eta^k epochs: a trial among the best 1/Eta
// of those that reached its rung goes on, any other pauses (its run
// directory keeps the checkpoint) and is promoted later if enough worse
// trials arrive, or pruned when the search ends.
//
// Each trial is an ordinary train run directory inside the search
// directory, trained in this process by train.Run; K trials run at once,
// sharing the kernel threads. The search directory holds search.json (the
// options), trials.jsonl (a line per change of a trial's state, written
// atomically), leaderboard.html (a parallel-coordinates plot, the table
// and the best configuration, one self-contained page) and best.json (the
// best trial's train.Config). A killed search resumes where it stopped.
package tune
