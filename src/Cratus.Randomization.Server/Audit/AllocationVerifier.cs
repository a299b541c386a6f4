using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Cratus.Randomization.Server.Audit;

/// <summary>One row that failed: a participant (by id), or a schedule entry (by stratum and sequence). Never an arm.</summary>
public sealed record AllocationProblem(string ParticipantId, string Stratum, int Sequence, string Problem);

public sealed record AllocationVerification(
    long ParticipantsChecked, long ScheduleEntriesChecked, long CohortEnrolmentsChecked, long Failures, IReadOnlyList<AllocationProblem> Problems);

/// <summary>
/// Checks the seal of every schedule entry, randomized participant and cohort enrolment, a batch at a time, and
/// lists each that fails (a security event is logged for each). Nothing is opened: no arm is decrypted or returned.
/// </summary>
public sealed class AllocationVerifier(TrialDbContext db, AllocationSeals seals)
{
    /// <summary>At most this many problems are listed; <see cref="AllocationVerification.Failures"/> counts them all.</summary>
    public const int MaxListed = 1000;

    private const int Batch = 5000;

    public async Task<AllocationVerification> VerifyAsync(CancellationToken ct)
    {
        var problems = new List<AllocationProblem>();
        long failures = 0;
        void Fail(AllocationProblem problem)
        {
            failures++;
            if (problems.Count < MaxListed) problems.Add(problem);
        }

        long entries = 0;
        for (long after = long.MinValue; ;)
        {
            var rows = await db.ScheduleEntries.AsNoTracking().Where(e => e.Id > after).OrderBy(e => e.Id).Take(Batch)
                .Select(e => new { e.Id, e.Stratum, e.Sequence, e.RandomizationNumber, e.ArmSealed, e.EntrySeal }).ToListAsync(ct);
            foreach (var e in rows)
            {
                entries++;
                if (seals.IsValid(new ScheduleEntryFacts(e.Stratum, e.Sequence, e.RandomizationNumber, e.ArmSealed), e.EntrySeal)) continue;
                seals.ReportEntry(e.Stratum, e.Sequence);
                Fail(new AllocationProblem("", e.Stratum, e.Sequence,
                    "schedule entry changed outside the service (its stratum, sequence, randomization number or sealed arm is not as sealed)"));
            }
            if (rows.Count < Batch) break;
            after = rows[^1].Id;
        }

        long participants = 0;
        for (long after = long.MinValue; ;)
        {
            var rows = await db.Participants.AsNoTracking().Where(p => p.Id > after).OrderBy(p => p.Id).Take(Batch)
                .Select(p => new
                {
                    p.Id,
                    Facts = new ParticipantAllocationFacts(p.ParticipantId, p.SiteCode, p.ScreeningId, p.Stratum, p.StratumSequence, p.ProductCode,
                        p.ScheduleEntryId, p.ScheduleEntry!.Stratum, p.ScheduleEntry.Sequence, p.ScheduleEntry.RandomizationNumber, p.ScheduleEntry.ArmSealed),
                    p.AllocationSeal,
                }).ToListAsync(ct);
            foreach (var p in rows)
            {
                participants++;
                if (seals.IsValid(p.Facts, p.AllocationSeal)) continue;
                seals.ReportParticipant(p.Facts.ParticipantId);
                Fail(new AllocationProblem(p.Facts.ParticipantId, p.Facts.Stratum, p.Facts.StratumSequence,
                    "allocation changed outside the service (the participant no longer matches the schedule entry, randomization number, stratum or position it was sealed to)"));
            }
            if (rows.Count < Batch) break;
            after = rows[^1].Id;
        }

        long enrolments = 0;
        for (long after = long.MinValue; ;)
        {
            var rows = await db.CohortEnrolments.AsNoTracking().Where(e => e.Id > after).OrderBy(e => e.Id).Take(Batch)
                .Select(e => new { e.Id, Facts = new CohortEnrolmentFacts(e.ParticipantId, e.SiteCode, e.ScreeningId, e.Cohort, e.ProductCode), e.AllocationSeal })
                .ToListAsync(ct);
            foreach (var e in rows)
            {
                enrolments++;
                if (seals.IsValid(e.Facts, e.AllocationSeal)) continue;
                seals.ReportParticipant(e.Facts.ParticipantId);
                Fail(new AllocationProblem(e.Facts.ParticipantId, "", 0,
                    "cohort enrolment changed outside the service (participant, site, screening id, cohort or product code is not as sealed)"));
            }
            if (rows.Count < Batch) break;
            after = rows[^1].Id;
        }

        return new AllocationVerification(participants, entries, enrolments, failures, problems);
    }
}
