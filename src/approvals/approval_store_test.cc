#include "approvals/approval_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace rampart::approvals {
namespace {

class ApprovalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rampart-approvals-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<ApprovalStore> OpenStore(uint64_t max_pending = 100) {
    auto s = ApprovalStore::Open({(dir_ / "approvals.db").string(), max_pending, 3600});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static Approval Pending(int64_t now, int64_t ttl_ms = 60'000) {
    Approval a;
    a.id = NewApprovalId();
    a.created_unix_ms = now;
    a.expires_unix_ms = now + ttl_ms;
    a.principal = "alice";
    a.route = "chat";
    a.model = "m";
    a.tools = {"send_email"};
    a.message = R"({"role":"assistant","content":null,"tool_calls":[]})";
    return a;
  }
  std::filesystem::path dir_;
};

TEST_F(ApprovalStoreTest, IdsAreRandomAndWellFormed) {
  std::string a = NewApprovalId(), b = NewApprovalId();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a.rfind("apr_", 0), 0u);
}

TEST_F(ApprovalStoreTest, PendingApprovalSurvivesReopenAndIsDecidedOnce) {
  Approval a = Pending(1000);
  {
    auto s = OpenStore();
    ASSERT_TRUE(s->Create(a).ok());
    EXPECT_EQ(s->Create(a).code(), absl::StatusCode::kAlreadyExists);
  }
  auto s = OpenStore();
  // Tool arguments inside: owner-only.
  EXPECT_EQ(
      std::filesystem::status(dir_ / "approvals.db").permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto got = s->Get(a.id, 2000);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, Status::kPending);
  EXPECT_EQ(got->tools, std::vector<std::string>{"send_email"});
  EXPECT_EQ(got->message, a.message);
  auto list = s->List(Status::kPending, 10, 2000);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);

  // Not yet approved: redeeming returns it unchanged.
  auto r = s->Redeem(a.id, 2000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::kPending);

  auto d = s->Decide(a.id, true, "ops", "looks fine", 3000);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->status, Status::kApproved);
  EXPECT_EQ(d->decided_by, "ops");
  EXPECT_EQ(s->Decide(a.id, false, "ops", "", 3001).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Released exactly once.
  r = s->Redeem(a.id, 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::kApproved);
  r = s->Redeem(a.id, 4001);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, Status::kReleased);
}

TEST_F(ApprovalStoreTest, DeniedExpiredUnknownAndBounds) {
  auto s = OpenStore(/*max_pending=*/2);
  Approval a = Pending(1000), b = Pending(1000, 10);
  ASSERT_TRUE(s->Create(a).ok());
  ASSERT_TRUE(s->Create(b).ok());
  EXPECT_EQ(s->Create(Pending(1005)).code(), absl::StatusCode::kResourceExhausted);
  // b expires; its slot frees up.
  auto got = s->Get(b.id, 2000);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, Status::kExpired);
  EXPECT_EQ(s->Decide(b.id, true, "ops", "", 2000).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(s->Create(Pending(2000)).ok());

  auto d = s->Decide(a.id, false, "ops", "no", 2000);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(s->Redeem(a.id, 2001)->status, Status::kDenied);

  EXPECT_EQ(s->Get(NewApprovalId(), 2000).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->Get("apr_' OR 1=1 --", 2000).status().code(), absl::StatusCode::kNotFound);
  Approval bad = Pending(2000);
  bad.message.assign(kMaxHeldBytes + 1, 'x');
  EXPECT_EQ(s->Create(bad).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rampart::approvals
