#include "supply/policy.h"

#include <gtest/gtest.h>

namespace rampart::supply {
namespace {

TEST(ImportPolicy, AllowsWhatATorchWeightsOnlyLoadImports) {
  ImportPolicy p = ImportPolicy::Default();
  for (auto [m, n] : {std::pair{"torch._utils", "_rebuild_tensor_v2"},
                      {"torch._utils", "_rebuild_parameter"},
                      {"torch", "FloatStorage"},
                      {"torch", "BFloat16Storage"},
                      {"collections", "OrderedDict"},
                      {"torch", "Size"},
                      {"torch._tensor", "_rebuild_from_type_v2"},
                      {"torch", "float16"},
                      {"numpy.core.multiarray", "_reconstruct"},
                      {"numpy._core.multiarray", "scalar"},
                      {"numpy", "dtype"},
                      {"_codecs", "encode"}}) {
    ImportClass c = p.Classify(m, n);
    EXPECT_EQ(c.verdict, ImportVerdict::kAllowed) << m << "." << n;
  }
}

TEST(ImportPolicy, DeniesProcessExecutionAndEvalAsCritical) {
  ImportPolicy p = ImportPolicy::Default();
  for (auto [m, n] : {std::pair{"os", "system"},
                      {"posix", "system"},
                      {"nt", "spawnv"},
                      {"subprocess", "Popen"},
                      {"builtins", "eval"},
                      {"builtins", "getattr"},
                      {"__builtin__", "eval"},  // Python 2 spelling, mapped as fix_imports does
                      {"runpy", "run_path"},
                      {"importlib", "import_module"},
                      {"pickle", "loads"},
                      {"cPickle", "loads"},
                      {"os.path", "join"}}) {
    ImportClass c = p.Classify(m, n);
    EXPECT_EQ(c.verdict, ImportVerdict::kDenied) << m << "." << n;
    EXPECT_EQ(c.severity, Severity::kCritical) << m << "." << n;
  }
  EXPECT_EQ(p.Classify("socket", "create_connection").severity, Severity::kHigh);
  EXPECT_EQ(p.Classify("ctypes", "CDLL").severity, Severity::kHigh);
}

TEST(ImportPolicy, DottedNamesAreGetattrChains) {
  ImportPolicy p = ImportPolicy::Default();
  ImportClass c = p.Classify("torch", "storage._load_from_bytes");
  EXPECT_EQ(c.verdict, ImportVerdict::kDenied);
  EXPECT_TRUE(c.nested_deserializer);
  EXPECT_EQ(c.canonical, "torch.storage._load_from_bytes");
  // An allowed class is not a free pass for attributes reached through it.
  c = p.Classify("collections", "OrderedDict.__init__.__globals__");
  EXPECT_EQ(c.verdict, ImportVerdict::kDenied);
  EXPECT_EQ(c.severity, Severity::kCritical);
  c = p.Classify("collections", "OrderedDict.fromkeys");
  EXPECT_EQ(c.verdict, ImportVerdict::kUnknown);
  // builtins + "getattr" via a chain on another module.
  EXPECT_EQ(p.Classify("builtins", "getattr.__call__").severity, Severity::kCritical);
}

TEST(ImportPolicy, UnknownImportsAreAtLeastMedium) {
  ImportPolicy p = ImportPolicy::Default();
  ImportClass c = p.Classify("sklearn.linear_model", "LogisticRegression");
  EXPECT_EQ(c.verdict, ImportVerdict::kUnknown);
  EXPECT_EQ(c.severity, Severity::kMedium);
  p.Allow("sklearn.linear_model.LogisticRegression");
  EXPECT_EQ(p.Classify("sklearn.linear_model", "LogisticRegression").verdict,
            ImportVerdict::kAllowed);
}

}  // namespace
}  // namespace rampart::supply

namespace rampart::supply {
namespace {

TEST(ImportPolicyProfiles, OptInProfilesAllowTheirClassesOnly) {
  ImportPolicy p = ImportPolicy::Default();
  EXPECT_EQ(p.Classify("sklearn.linear_model._logistic", "LogisticRegression").verdict,
            ImportVerdict::kUnknown);
  EXPECT_EQ(p.Classify("joblib.numpy_pickle", "NumpyArrayWrapper").verdict,
            ImportVerdict::kUnknown);
  for (std::string_view name : ImportPolicy::ProfileNames()) EXPECT_TRUE(p.AddProfile(name));
  EXPECT_FALSE(p.AddProfile("everything"));
  EXPECT_EQ(p.Classify("sklearn.linear_model._logistic", "LogisticRegression").verdict,
            ImportVerdict::kAllowed);
  EXPECT_EQ(p.Classify("joblib.numpy_pickle", "NumpyArrayWrapper").verdict,
            ImportVerdict::kAllowed);
  EXPECT_EQ(p.Classify("xgboost.core", "Booster").verdict, ImportVerdict::kAllowed);
  EXPECT_EQ(p.Classify("numpy.random._pickle", "__randomstate_ctor").verdict,
            ImportVerdict::kAllowed);
  // A profile never opens a path to the denylist.
  EXPECT_EQ(p.Classify("sklearn.tree._tree", "Tree.__init__.__globals__").verdict,
            ImportVerdict::kDenied);
  EXPECT_EQ(p.Classify("os", "system").verdict, ImportVerdict::kDenied);
  EXPECT_EQ(p.Classify("sklearn.utils", "_joblib").verdict, ImportVerdict::kUnknown);
}

}  // namespace
}  // namespace rampart::supply
