using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Application.DoseEscalation;
using Cratus.Randomization.Server.Application.Participants;
using Cratus.Randomization.Server.Security;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Proto = Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Grpc;

public sealed class DoseEscalationGrpcService(
    EnrolInCohort enrol, RecordDsmbDecision recordDecision, GetEscalationStatus getStatus) : Proto.DoseEscalationService.DoseEscalationServiceBase
{
    [Runs(typeof(EnrolInCohort))]
    public override async Task<EnrollInCohortResponse> EnrollInCohort(EnrollInCohortRequest request, ServerCallContext context)
    {
        var a = await enrol.RunAsync(AccessInterceptor.CallerOf(context),
            ProtoMapping.ToIntake(request.RequestId, request.SiteCode, request.ScreeningId, request.Eligibility), context.CancellationToken);
        return new EnrollInCohortResponse
        {
            Assignment = new Proto.CohortAssignment
            {
                ParticipantId = a.ParticipantId, SiteCode = a.SiteCode, ScreeningId = a.ScreeningId, Cohort = a.Cohort, Dose = a.Dose,
                CellCount = a.CellCount, ProductCode = a.ProductCode, EnrolledAt = Timestamp.FromDateTimeOffset(a.EnrolledAt),
            },
        };
    }

    [Runs(typeof(RecordDsmbDecision))]
    public override async Task<RecordDsmbDecisionResponse> RecordDsmbDecision(RecordDsmbDecisionRequest request, ServerCallContext context)
    {
        Domain.DsmbDecisionKind? kind = request.Decision switch
        {
            Proto.DsmbDecisionKind.Escalate => Domain.DsmbDecisionKind.Escalate,
            Proto.DsmbDecisionKind.Continue => Domain.DsmbDecisionKind.Continue,
            Proto.DsmbDecisionKind.Hold => Domain.DsmbDecisionKind.Hold,
            Proto.DsmbDecisionKind.Stop => Domain.DsmbDecisionKind.Stop,
            Proto.DsmbDecisionKind.ProceedToRandomizedPhase => Domain.DsmbDecisionKind.ProceedToRandomizedPhase,
            _ => null,
        };
        var report = await recordDecision.RunAsync(AccessInterceptor.CallerOf(context), new DsmbDecisionCommand(kind, request.Reason, request.Signature.ToInput()), context.CancellationToken);
        return new RecordDsmbDecisionResponse { Status = ToProto(report) };
    }

    [Runs(typeof(GetEscalationStatus))]
    public override async Task<GetEscalationStatusResponse> GetEscalationStatus(GetEscalationStatusRequest request, ServerCallContext context) =>
        new() { Status = ToProto(await getStatus.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken)) };

    private static EscalationStatus ToProto(EscalationReport report)
    {
        var s = report.State;
        return new EscalationStatus
        {
            CurrentCohort = s.CurrentCohort,
            EnrolmentOpen = s.EnrolmentOpen,
            OnHold = s.OnHold,
            Stopped = s.Stopped,
            RandomizedPhaseOpen = s.ProceededToRandomizedPhase && !s.Stopped,
            Cohorts =
            {
                s.Cohorts.Select(c => new CohortProgress
                {
                    Cohort = c.Definition.Number, Dose = c.Definition.Dose, CellCount = c.Definition.CellCount, Places = c.Definition.Participants,
                    Enrolled = c.Enrolled, Infused = c.Infused, Withdrawn = c.Withdrawn,
                    Status = c.Status switch { CohortStatus.NotOpened => "not_opened", CohortStatus.Open => "open", CohortStatus.Full => "full", _ => "complete" },
                    WindowsCloseAt = { c.WindowsCloseAt.Select(Timestamp.FromDateTimeOffset) },
                }),
            },
            Blocking = { s.Blocking },
            NextStep = s.NextStep,
            SafetyEvents =
            {
                report.SafetyEvents.Select(e => new SafetyEventSummary
                {
                    ParticipantId = e.Visible ? e.Event.ParticipantId : "",
                    Cohort = e.Cohort,
                    Type = ToProto(e.Event.Type),
                    OnsetDate = new CalendarDate { Year = e.Event.Onset.Year, Month = e.Event.Onset.Month, Day = e.Event.Onset.Day },
                    Serious = e.Event.Serious,
                    TreatmentEmergent = e.Event.TreatmentEmergent,
                    ReportedAt = Timestamp.FromDateTimeOffset(e.Event.ReportedAt),
                }),
            },
            Decisions =
            {
                report.Decisions.Select(x => new DsmbDecisionSummary
                {
                    Decision = (Proto.DsmbDecisionKind)((int)x.Decision.Kind + 1),
                    Cohort = x.Decision.Cohort,
                    DecidedAt = Timestamp.FromDateTimeOffset(x.Decision.DecidedAt),
                    DecidedBy = x.Decision.DecidedBy,
                    Reason = x.Decision.Reason,
                    Signature = x.Signature?.ToProto(),
                }),
            },
        };
    }

    internal static Domain.SafetyEventType? ToDomain(Proto.SafetyEventType type) =>
        type == Proto.SafetyEventType.Unspecified || !System.Enum.IsDefined(type) ? null : (Domain.SafetyEventType)((int)type - 1);

    internal static Proto.SafetyEventType ToProto(Domain.SafetyEventType type) => (Proto.SafetyEventType)((int)type + 1);
}
