// Runs the real `rampart scan-model` binary: exit codes 0 (clean), 1 (findings at or above
// --fail-on), 2 (something could not be read in full), JSON output and directory walking.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "run_rampart.h"

namespace {

using rampart::testing::RunRampart;
using Result = rampart::testing::RunResult;

std::string Dir() {
  std::string d =
      std::string(::testing::TempDir()) + "/rampart_scan_model_" + std::to_string(getpid());
  mkdir(d.c_str(), 0700);
  return d;
}

std::string Write(const std::string& name, const std::string& content) {
  std::string path = Dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// PROTO 2, EMPTY_DICT, STOP.
const std::string kCleanPickle("\x80\x02}.", 4);
// cos\nsystem\n(S'id'\ntR.  (os.system("id"), protocol 0)
const std::string kEvilPickle = "cos\nsystem\n(S'id'\ntR.";
// PROTO 2, GLOBAL sklearn.linear_model LogisticRegression, EMPTY_TUPLE, REDUCE, STOP: an
// import that is not on the allowlist (medium) but not denied.
const std::string kUnknownPickle =
    std::string("\x80\x02", 2) + "csklearn.linear_model\nLogisticRegression\n)R.";

TEST(ScanModelCli, CleanPickleExitsZero) {
  Result r = RunRampart("scan-model " + Write("clean.bin", kCleanPickle));
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST(ScanModelCli, MaliciousPickleExitsOneAndNamesTheImport) {
  Result r = RunRampart("scan-model " + Write("evil.safetensors", kEvilPickle));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("os.system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("critical"), std::string::npos) << r.out;
}

TEST(ScanModelCli, FailOnRaisesTheThreshold) {
  std::string path = Write("unknown.pkl", kUnknownPickle);
  EXPECT_EQ(RunRampart("scan-model " + path).exit_code, 1);
  EXPECT_EQ(RunRampart("scan-model --fail-on high " + path).exit_code, 0);
  EXPECT_EQ(RunRampart("scan-model --fail-on bogus " + path).exit_code, 2);
}

TEST(ScanModelCli, TruncatedOrMissingFilesExitTwo) {
  std::string truncated = Write("truncated.pkl", kEvilPickle.substr(0, kEvilPickle.size() - 3));
  Result r = RunRampart("scan-model " + truncated);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("truncated"), std::string::npos) << r.out;
  EXPECT_EQ(RunRampart("scan-model /nonexistent/model.pt").exit_code, 2);
}

TEST(ScanModelCli, JsonReportsEveryFileOfADirectory) {
  std::string dir = Dir() + "/tree";
  mkdir(dir.c_str(), 0700);
  mkdir((dir + "/sub").c_str(), 0700);
  std::ofstream(dir + "/a.pkl", std::ios::binary) << kCleanPickle;
  std::ofstream(dir + "/sub/b.bin", std::ios::binary) << kEvilPickle;
  Result r = RunRampart("scan-model --format json " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto doc = boost::json::parse(r.out).as_object();
  auto& files = doc["files"].as_array();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].as_object()["findings"].as_array().empty());
  auto& f = files[1].as_object()["findings"].as_array().at(0).as_object();
  EXPECT_EQ(f["id"].as_string(), "pickle.import.denied");
  EXPECT_EQ(f["subject"].as_string(), "os.system");
  EXPECT_EQ(f["severity"].as_string(), "critical");
  EXPECT_EQ(doc["exit_code"].as_int64(), 1);
}

}  // namespace

namespace {

TEST(ScanModelCli, UntrustedNamesCannotWriteEscapeSequencesToTheTerminal) {
  // A protocol-0 GLOBAL whose module name carries a terminal escape (set window title, BEL).
  std::string pickle = "cos\x1b]0;pwned\x07\nsystem\n(S'x'\ntR.";
  Result r = RunRampart("scan-model " + Write("esc\x1b[31m.pkl", pickle));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("os\\x1b]0;pwned\\x07.system"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("esc\\x1b[31m.pkl"), std::string::npos) << r.out;
}

}  // namespace

namespace {

std::string SafetensorsFile(const std::string& header, const std::string& data) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST(ScanModelCli, SarifNamesRulesLevelsAndLocations) {
  std::string evil = Write("evil.pkl", kEvilPickle);
  std::string smuggled =
      Write("smuggled.safetensors",
            SafetensorsFile(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", "abcd") +
                kEvilPickle);
  Result r = RunRampart("scan-model --format sarif " + evil + " " + smuggled);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc["version"].as_string(), "2.1.0");
  auto& run = doc["runs"].as_array().at(0).as_object();
  auto& rules = run["tool"].as_object()["driver"].as_object()["rules"].as_array();
  auto& results = run["results"].as_array();
  ASSERT_EQ(results.size(), 3u) << r.out;
  std::set<std::string> ids;
  for (auto& v : results) {
    auto& res = v.as_object();
    ids.insert(std::string(res["ruleId"].as_string()));
    // Each result points at its rule, whose id it repeats.
    auto& rule = rules.at(res["ruleIndex"].as_int64()).as_object();
    EXPECT_EQ(rule["id"], res["ruleId"]);
    EXPECT_EQ(res["level"].as_string(), "error");
    auto& loc = res["locations"].as_array().at(0).as_object()["physicalLocation"].as_object();
    EXPECT_TRUE(loc["artifactLocation"].as_object()["uri"].as_string().ends_with(
        res["ruleId"].as_string().starts_with("safetensors") ? "smuggled.safetensors"
                                                             : "evil.pkl"));
  }
  EXPECT_EQ(ids,
            (std::set<std::string>{"pickle.import.denied", "pickle.call", "safetensors.layout"}));
  EXPECT_TRUE(run["invocations"].as_array().at(0).as_object()["executionSuccessful"].as_bool());
}

TEST(ScanModelCli, SarifReportsWhatCouldNotBeRead) {
  Result r = RunRampart("scan-model --format sarif /nonexistent/model.pt");
  EXPECT_EQ(r.exit_code, 2);
  auto doc = boost::json::parse(r.out).as_object();
  auto& inv = doc["runs"].as_array().at(0).as_object()["invocations"].as_array().at(0).as_object();
  EXPECT_FALSE(inv["executionSuccessful"].as_bool());
  EXPECT_EQ(inv["toolExecutionNotifications"].as_array().size(), 1u);
}

TEST(ScanModelCli, ProgressIsReportedForLargeFilesWhenAsked) {
  // A 72 MiB protocol-4 pickle of one big bytes object: large enough to report progress.
  std::string big("\x80\x04\x8e", 3);
  const uint64_t n = 72ull << 20;
  for (int i = 0; i < 8; ++i) big += static_cast<char>((n >> (8 * i)) & 0xff);
  big += std::string(n, 'x');
  big += '.';
  std::string path = Write("big.pkl", big);
  Result r = RunRampart("scan-model --progress always " + path, /*with_stderr=*/true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("big.pkl:   0% of 72.0 MiB"), std::string::npos) << r.out;
  Result quiet = RunRampart("scan-model --progress never " + path, /*with_stderr=*/true);
  EXPECT_EQ(quiet.out.find("% of"), std::string::npos) << quiet.out;
  std::remove(path.c_str());
}

}  // namespace

namespace {

TEST(ScanModelCli, AllowProfilesAreOptIn) {
  // What pickle.dumps(LogisticRegression()) imports: the class at its defining module.
  std::string path =
      Write("logreg.pkl", std::string("\x80\x02", 2) +
                              "csklearn.linear_model._logistic\nLogisticRegression\n)R.");
  EXPECT_EQ(RunRampart("scan-model " + path).exit_code, 1);
  Result r = RunRampart("scan-model --allow-profile joblib,sklearn " + path);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  Result bad = RunRampart("scan-model --allow-profile everything " + path, true);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("unknown profile"), std::string::npos) << bad.out;
}

}  // namespace
