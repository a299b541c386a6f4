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

        // Every participant row, of either phase, is checked as its phase says; a row whose phase or entry was edited
        // away from what its seal binds fails as well (an entry left out by a join would escape the check).
        long participants = 0, enrolments = 0;
        for (long after = long.MinValue; ;)
        {
            var rows = await (
                    from p in db.Participants.AsNoTracking()
                    join e in db.ScheduleEntries on p.ScheduleEntryId equals e.Id into entry
                    from e in entry.DefaultIfEmpty()
                    where p.Id > after
                    orderby p.Id
                    select new
                    {
                        p.Id, p.Phase, p.ParticipantId, p.SiteCode, p.ScreeningId, p.Stratum, p.StratumSequence, p.ProductCode, p.Cohort, p.AllocationSeal,
                        EntryId = (long?)e.Id, EntryStratum = e.Stratum, EntrySequence = (int?)e.Sequence, e.RandomizationNumber, e.ArmSealed,
                    }).Take(Batch).ToListAsync(ct);
            foreach (var p in rows)
            {
                if (p.Phase == TrialPhase.DoseEscalation)
                {
                    enrolments++;
                    if (p.Cohort is { } cohort && seals.IsValid(new CohortEnrolmentFacts(p.ParticipantId, p.SiteCode, p.ScreeningId, cohort, p.ProductCode), p.AllocationSeal))
                        continue;
                    seals.ReportParticipant(p.ParticipantId);
                    Fail(new AllocationProblem(p.ParticipantId, "", 0,
                        "cohort enrolment changed outside the service (participant, site, screening id, cohort or product code is not as sealed)"));
                    continue;
                }
                participants++;
                if (p.EntryId is { } entryId && p.Stratum is not null && p.StratumSequence is { } sequence
                    && seals.IsValid(new ParticipantAllocationFacts(p.ParticipantId, p.SiteCode, p.ScreeningId, p.Stratum, sequence, p.ProductCode,
                        entryId, p.EntryStratum!, p.EntrySequence!.Value, p.RandomizationNumber!, p.ArmSealed!), p.AllocationSeal))
                    continue;
                seals.ReportParticipant(p.ParticipantId);
                Fail(new AllocationProblem(p.ParticipantId, p.Stratum ?? "", p.StratumSequence ?? 0,
                    "allocation changed outside the service (the participant no longer matches the schedule entry, randomization number, stratum or position it was sealed to)"));
            }
            if (rows.Count < Batch) break;
            after = rows[^1].Id;
        }

        return new AllocationVerification(participants, entries, enrolments, failures, problems);
    }
}
