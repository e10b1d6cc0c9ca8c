#include "audit/sqlite_sink.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "audit/chain.h"
#include "audit/store.h"
#include "common/strings.h"

namespace rampart::audit {

using internal::Db;
using internal::Stmt;

struct SqliteSink::Impl {
  struct Pending {
    Record record;
    DurableCallback done;
  };

  ~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
  }

  SqliteSinkOptions opts;
  // flock on "<path>-writer.lock": one sink per log, since the chain state lives in memory.
  int lock_fd = -1;
  std::unique_ptr<Db> db;
  std::unique_ptr<Stmt> insert;
  std::unique_ptr<Stmt> upsert_head;

  // Chain state: touched only by the writer thread after Open.
  uint64_t last_seq = 0;
  Sha256Digest last_hash{};
  std::atomic<uint64_t> committed_seq{0};

  std::mutex mu;
  std::condition_variable has_work;  // queue non-empty or closing
  std::condition_variable has_room;  // queue below capacity
  std::condition_variable idle;      // a batch finished
  std::deque<Pending> queue;         // guarded by mu
  uint64_t submitted = 0;            // guarded by mu: records ever queued
  uint64_t finished = 0;             // guarded by mu: records written or failed
  bool closing = false;              // guarded by mu
  bool closed = false;               // guarded by mu
  std::thread writer;
  std::once_flag close_once;

  std::atomic<uint64_t> n_queued{0}, n_written{0}, n_refused{0}, n_failed{0}, n_batches{0},
      depth{0};

  void Run();
  absl::Status WriteBatch(std::vector<Pending>& batch, std::vector<uint64_t>& seqs);
};

namespace {

// Checks that the stored head and the last record agree and carry valid MACs.
absl::Status CheckTail(Db& db, const std::string& key, uint64_t* seq, Sha256Digest* hash) {
  auto head = internal::ReadHead(db);
  if (!head.ok()) return head.status();
  auto last = db.Prepare(
      "SELECT seq, body, prev_hash, record_hash, mac FROM records ORDER BY seq DESC LIMIT 1");
  if (!last.ok()) return last.status();
  auto row = (*last)->Step();
  if (!row.ok()) return row.status();
  auto cp = internal::ReadLatestCheckpoint(db);
  if (!cp.ok()) return cp.status();
  if (!head->has_value()) {
    if (*row || cp->has_value()) {
      return absl::DataLossError(StrCat("audit log ", db.path(), ": the head row is missing"));
    }
    *seq = 0;
    *hash = GenesisHash();
    return absl::OkStatus();
  }
  const internal::SignedPoint& h = **head;
  if (ToHex(HeadMac(key, h.seq, h.record_hash)) != h.mac_hex) {
    return absl::DataLossError(
        StrCat("audit log ", db.path(), ": the head row fails its MAC check (seq ", h.seq, ")"));
  }
  if (*row) {
    Stmt& s = **last;
    uint64_t last_seq = static_cast<uint64_t>(s.Int(0));
    auto prev = DigestFromHex(s.Text(2));
    Sha256Digest recomputed = RecordHash(prev.ok() ? *prev : Sha256Digest{}, s.Text(1));
    if (last_seq != h.seq || !prev.ok() || ToHex(recomputed) != s.Text(3) ||
        !DigestEqual(recomputed, h.record_hash) || ToHex(RecordMac(key, recomputed)) != s.Text(4)) {
      return absl::DataLossError(StrCat("audit log ", db.path(), ": the last record (seq ",
                                        last_seq, ") does not match the signed head (seq ", h.seq,
                                        "); run rampart audit verify"));
    }
  } else if (!cp->has_value() || (*cp)->seq != h.seq ||
             !DigestEqual((*cp)->record_hash, h.record_hash)) {
    return absl::DataLossError(StrCat("audit log ", db.path(),
                                      ": records up to the signed head (seq ", h.seq,
                                      ") are missing; run rampart audit verify"));
  }
  *seq = h.seq;
  *hash = h.record_hash;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteSink>> SqliteSink::Open(SqliteSinkOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("audit sink: path is empty");
  if (options.key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        StrCat("audit sink: key shorter than ", kMinKeyBytes, " bytes"));
  }
  if (options.queue_capacity == 0 || options.max_batch == 0) {
    return absl::InvalidArgumentError("audit sink: queue_capacity and max_batch must be > 0");
  }
  auto impl = std::make_unique<Impl>();
  std::string lock_path = options.path + "-writer.lock";
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (impl->lock_fd < 0) {
    int err = errno;
    std::string msg =
        StrCat("audit log ", options.path, ": cannot open ", lock_path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES || err == ELOOP) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  }
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(StrCat("audit log ", options.path,
                                                " is already open for writing by another sink (",
                                                lock_path, " is locked)"));
  }
  auto db = Db::Open(options.path, internal::OpenMode::kCreate,
                     options.durability == Durability::kFull, options.busy_timeout_ms);
  if (!db.ok()) return db.status();
  impl->db = *std::move(db);
  if (auto st = impl->db->CheckOrStoreKeyId(KeyId(options.key)); !st.ok()) return st;
  if (auto st = CheckTail(*impl->db, options.key, &impl->last_seq, &impl->last_hash); !st.ok()) {
    return st;
  }
  impl->committed_seq = impl->last_seq;
  auto insert = impl->db->Prepare(
      "INSERT INTO records(seq, time_us, principal, reason, body, prev_hash, record_hash, mac) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!insert.ok()) return insert.status();
  impl->insert = *std::move(insert);
  auto head = impl->db->Prepare(
      "INSERT INTO head(id, seq, record_hash, mac) VALUES(1, ?1, ?2, ?3) "
      "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, record_hash = excluded.record_hash, "
      "mac = excluded.mac");
  if (!head.ok()) return head.status();
  impl->upsert_head = *std::move(head);
  impl->opts = std::move(options);
  Impl* raw = impl.get();
  impl->writer = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<SqliteSink>(new SqliteSink(std::move(impl)));
}

SqliteSink::SqliteSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteSink::~SqliteSink() { Close(); }

absl::Status SqliteSink::Submit(Record record, DurableCallback on_durable) {
  std::unique_lock lock(impl_->mu);
  if (impl_->closing) return absl::FailedPreconditionError("audit sink is closed");
  if (impl_->queue.size() >= impl_->opts.queue_capacity) {
    bool room = false;
    if (impl_->opts.on_full == OnFull::kBlock) {
      room = impl_->has_room.wait_for(lock, impl_->opts.block_timeout, [&] {
        return impl_->closing || impl_->queue.size() < impl_->opts.queue_capacity;
      });
      if (impl_->closing) return absl::FailedPreconditionError("audit sink is closed");
    }
    if (!room) {
      impl_->n_refused.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError("audit queue is full");
    }
  }
  impl_->queue.push_back({std::move(record), std::move(on_durable)});
  ++impl_->submitted;
  impl_->depth.store(impl_->queue.size(), std::memory_order_relaxed);
  impl_->n_queued.fetch_add(1, std::memory_order_relaxed);
  impl_->has_work.notify_one();
  return absl::OkStatus();
}

void SqliteSink::Impl::Run() {
  std::vector<Pending> batch;
  std::vector<uint64_t> seqs;
  while (true) {
    {
      std::unique_lock lock(mu);
      has_work.wait(lock, [&] { return closing || !queue.empty(); });
      if (queue.empty()) break;  // closing and drained
      size_t n = std::min(queue.size(), opts.max_batch);
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      depth.store(queue.size(), std::memory_order_relaxed);
    }
    has_room.notify_all();
    absl::Status st = WriteBatch(batch, seqs);
    if (st.ok()) {
      n_written.fetch_add(batch.size(), std::memory_order_relaxed);
      n_batches.fetch_add(1, std::memory_order_relaxed);
    } else {
      n_failed.fetch_add(batch.size(), std::memory_order_relaxed);
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].done) continue;
      if (st.ok()) {
        batch[i].done(seqs[i]);
      } else {
        batch[i].done(st);
      }
    }
    {
      std::lock_guard lock(mu);
      finished += batch.size();
    }
    batch.clear();
    idle.notify_all();
  }
}

absl::Status SqliteSink::Impl::WriteBatch(std::vector<Pending>& batch,
                                          std::vector<uint64_t>& seqs) {
  seqs.clear();
  uint64_t seq = last_seq;
  Sha256Digest hash = last_hash;
  absl::Status st = db->Exec("BEGIN IMMEDIATE");
  for (size_t i = 0; st.ok() && i < batch.size(); ++i) {
    Record& r = batch[i].record;
    r.seq = ++seq;
    std::string body = EncodeRecord(r);
    if (body.size() > kMaxRecordBytes) {
      // Keep the chain whole: an oversized record is replaced by a stub that says so.
      Record stub;
      stub.seq = r.seq;
      stub.time_us = r.time_us;
      stub.request_id = r.request_id;
      stub.principal = r.principal;
      stub.route = r.route;
      stub.verdict = r.verdict;
      stub.reason = r.reason;
      stub.http_status = r.http_status;
      stub.request_bytes = r.request_bytes;
      stub.response_bytes = r.response_bytes;
      stub.request_sha256 = r.request_sha256;
      stub.response_sha256 = r.response_sha256;
      stub.redacted_prompt = "[audit: record over the size limit, findings and text dropped]";
      body = EncodeRecord(stub);
    }
    Sha256Digest prev = hash;
    hash = RecordHash(prev, body);
    insert->Reset();
    insert->Bind(1, static_cast<int64_t>(r.seq));
    insert->Bind(2, r.time_us);
    insert->Bind(3, r.principal);
    insert->Bind(4, r.reason);
    insert->Bind(5, body);
    insert->Bind(6, ToHex(prev));
    insert->Bind(7, ToHex(hash));
    insert->Bind(8, ToHex(RecordMac(opts.key, hash)));
    st = insert->Step().status();
    seqs.push_back(r.seq);
  }
  if (st.ok()) {
    upsert_head->Reset();
    upsert_head->Bind(1, static_cast<int64_t>(seq));
    upsert_head->Bind(2, ToHex(hash));
    upsert_head->Bind(3, ToHex(HeadMac(opts.key, seq, hash)));
    st = upsert_head->Step().status();
  }
  if (st.ok()) st = db->Exec("COMMIT");
  if (!st.ok()) {
    db->Exec("ROLLBACK").IgnoreError();
    seqs.clear();
    return st;
  }
  last_seq = seq;
  last_hash = hash;
  committed_seq.store(seq, std::memory_order_release);
  return absl::OkStatus();
}

void SqliteSink::Flush() {
  std::unique_lock lock(impl_->mu);
  // `finished` counts records whose callbacks have run, so this also waits for the batch
  // the writer has already taken out of the queue.
  uint64_t target = impl_->submitted;
  impl_->idle.wait(lock, [&] { return impl_->closed || impl_->finished >= target; });
}

void SqliteSink::Close() {
  std::call_once(impl_->close_once, [this] {
    {
      std::lock_guard lock(impl_->mu);
      impl_->closing = true;
    }
    impl_->has_work.notify_all();
    impl_->has_room.notify_all();
    impl_->writer.join();  // the writer drains the queue before it exits
    std::lock_guard lock(impl_->mu);
    impl_->closed = true;
    impl_->insert.reset();
    impl_->upsert_head.reset();
    impl_->db.reset();
    ::close(impl_->lock_fd);  // releases the flock
    impl_->lock_fd = -1;
    impl_->idle.notify_all();
  });
}

SinkStats SqliteSink::Stats() const {
  SinkStats s;
  s.queued = impl_->n_queued.load(std::memory_order_relaxed);
  s.written = impl_->n_written.load(std::memory_order_relaxed);
  s.refused = impl_->n_refused.load(std::memory_order_relaxed);
  s.failed = impl_->n_failed.load(std::memory_order_relaxed);
  s.batches = impl_->n_batches.load(std::memory_order_relaxed);
  s.queue_depth = impl_->depth.load(std::memory_order_relaxed);
  return s;
}

uint64_t SqliteSink::last_seq() const {
  return impl_->committed_seq.load(std::memory_order_acquire);
}

}  // namespace rampart::audit
