import FastJSON
import SoapCore
import SoapStorage

/// The JSON of a job (GET /v1/jobs/{id}, list entries): state, times, progress, errors.
extension JobService {
    func write(_ job: JobSummary, to w: inout JSONWriter) {
        w.beginObject()
        w.key("id")
        w.string(job.id)
        w.key("state")
        w.string(job.state.rawValue)
        w.key("created_at")
        w.string(SystemClock.iso8601(job.createdAt.timeIntervalSince1970))
        w.key("updated_at")
        w.string(SystemClock.iso8601(job.updatedAt.timeIntervalSince1970))
        if let started = job.startedAt {
            w.key("started_at")
            w.string(SystemClock.iso8601(started.timeIntervalSince1970, milliseconds: true))
        }
        if let finished = job.finishedAt {
            w.key("finished_at")
            w.string(SystemClock.iso8601(finished.timeIntervalSince1970, milliseconds: true))
        }
        w.key("progress")
        w.beginObject()
        w.key("structures_done")
        w.integer(job.structuresDone)
        w.key("structures_total")
        w.integer(job.structuresTotal)
        w.key("chunks_done")
        w.integer(job.chunksDone)
        w.key("atoms_done")
        w.integer(job.atomsDone)
        if let (rate, eta) = state.withLock({ s -> (Double, Double?)? in
            guard let c = s.current, c.id == job.id else { return nil }
            return c.rates(done: job.structuresDone, total: job.structuresTotal)
        }) {
            w.key("atoms_per_second")
            w.number(rate)
            if let eta {
                w.key("eta_seconds")
                w.number(eta)
            }
        } else if job.state == .succeeded, let started = job.startedAt, let finished = job.finishedAt,
            finished > started
        {
            // Over its whole running time (a resumed job's includes the time it was down).
            w.key("atoms_per_second")
            w.number(Double(job.atomsDone) / finished.timeIntervalSince(started))
        }
        w.endObject()
        w.key("errors")
        w.raw(Array(job.errorsJSON.utf8))
        if let error = job.error {
            w.key("error")
            w.string(error)
        }
        if job.state == .succeeded {
            w.key("result")
            w.string("/v1/jobs/\(job.id)/result")
        }
        w.endObject()
    }
}
