using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;

namespace Cratus.Cli;

/// <summary>Phase I: enrolment into cohorts, DSMB decisions and the cohort table (infusions, safety events and withdrawals: <see cref="ParticipantCommands"/>).</summary>
public static class EscalationCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session, Signing signing)
    {
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };
        var participant = new Argument<string>("participant-id") { Description = "The participant" };

        var enrol = new Command("enrol", "Check eligibility and enrol a participant in the open Phase I cohort (open label: shows the dose).");
        var intake = IntakeOptions.AddTo(enrol);
        enrol.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var channel = s.Channel();
            var (request, siteCode, screeningId, eligibility) = await intake.ReadAsync(p, s, channel, ct);
            var reply = await new DoseEscalationService.DoseEscalationServiceClient(channel).EnrollInCohortAsync(new EnrollInCohortRequest
            {
                RequestId = request, SiteCode = siteCode, ScreeningId = screeningId, Eligibility = eligibility,
            }, cancellationToken: ct);
            var a = reply.Assignment;
            s.Print(reply, [
                ("Participant", a.ParticipantId),
                ("Site", a.SiteCode),
                ("Screening id", a.ScreeningId),
                ("Cohort", a.Cohort.ToString(CultureInfo.InvariantCulture)),
                ("Dose", $"{a.Dose} ({a.CellCount.ToString("N0", CultureInfo.InvariantCulture)} cells)"),
                ("Product code", a.ProductCode),
                ("Request id", request),
            ]);
        });

        var decision = new Argument<string>("decision") { Description = "escalate, continue, hold, stop or proceed" };
        decision.AcceptOnlyFromAmong("escalate", "continue", "hold", "stop", "proceed");
        var dsmb = new Command("dsmb-decision", "Record the DSMB's decision (DSMB members; signed).") { decision, reason, signing.Meaning };
        dsmb.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var client = new DoseEscalationService.DoseEscalationServiceClient(s.Channel());
            // The signature names the cohort current now: the record the decision is made for.
            var current = (await client.GetEscalationStatusAsync(new GetEscalationStatusRequest(), cancellationToken: ct)).Status.CurrentCohort;
            var signature = await signing.SignAsync(s, p, SignedAction.DsmbDecision, current.ToString(CultureInfo.InvariantCulture), ct);
            var reply = await client.RecordDsmbDecisionAsync(new RecordDsmbDecisionRequest
            {
                Signature = signature,
                Decision = p.GetValue(decision) switch
                {
                    "escalate" => DsmbDecisionKind.Escalate,
                    "continue" => DsmbDecisionKind.Continue,
                    "hold" => DsmbDecisionKind.Hold,
                    "stop" => DsmbDecisionKind.Stop,
                    _ => DsmbDecisionKind.ProceedToRandomizedPhase,
                },
                Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            s.Note($"Signed ({p.GetValue(signing.Meaning)}) by you for cohort {current}; the signature is in the audit trail.");
            PrintStatus(s, reply, reply.Status);
        });

        var escalation = new Command("escalation", "Phase I dose escalation.");
        var status = new Command("status", "The cohort table: doses, enrolment, infusions, safety windows, what blocks the next step.");
        status.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new DoseEscalationService.DoseEscalationServiceClient(s.Channel()).GetEscalationStatusAsync(new GetEscalationStatusRequest(), cancellationToken: ct);
            PrintStatus(s, reply, reply.Status);
        });
        escalation.Subcommands.Add(status);
        return [enrol, dsmb, escalation];
    }

    private static void PrintStatus(CliSession s, Google.Protobuf.IMessage reply, EscalationStatus status)
    {
        s.PrintTable(reply, ["COHORT", "DOSE", "STATUS", "ENROLLED", "INFUSED", "WITHDRAWN", "LAST WINDOW CLOSES (UTC)"],
            status.Cohorts.Select(c => (IReadOnlyList<string>)[
                c.Cohort.ToString(CultureInfo.InvariantCulture), c.Dose, c.Status.Replace('_', ' '),
                $"{c.Enrolled}/{c.Places}", c.Infused.ToString(CultureInfo.InvariantCulture), c.Withdrawn.ToString(CultureInfo.InvariantCulture),
                c.WindowsCloseAt.Count == 0 ? "" : UnblindingCommands.Time(c.WindowsCloseAt[^1])]).ToList());
        s.Note("");
        s.Note($"Enrolment: {(status.EnrolmentOpen ? $"open (cohort {status.CurrentCohort})" : "closed")}");
        foreach (var b in status.Blocking) s.Note($"Blocking: {b}");
        s.Note($"Next step: {status.NextStep}");
        foreach (var e in status.SafetyEvents)
            s.Note($"Safety event: cohort {e.Cohort} {e.ParticipantId} {e.Type} onset {e.OnsetDate.Year:D4}-{e.OnsetDate.Month:D2}-{e.OnsetDate.Day:D2}{(e.TreatmentEmergent ? " (TE-SAE)" : "")}");
        foreach (var d in status.Decisions)
            s.Note($"DSMB: {UnblindingCommands.Time(d.DecidedAt)} {d.Decision} (cohort {d.Cohort}) by {d.DecidedBy}: {d.Reason}");
    }
}
