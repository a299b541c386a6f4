using Cratus.Randomization.Protos.V1;
using Grpc.Core;
using Grpc.Health.V1;

namespace Cratus.Testing;

/// <summary>
/// The generated gRPC client of every service over one channel, that is as one signed-in user:
/// <c>server.As(TrialRole.Pharmacist).Pharmacy</c>, <c>server.As(TrialRole.SiteCoordinator, "UM").Randomization</c>,
/// <c>server.As(server.Token(TrialRole.Statistician, "stat-2")).Unblinding</c>. The role decides what the server
/// allows, not which clients there are: a test of a refusal asks for a service the role may not call.
/// </summary>
public sealed class TrialClients(CallInvoker channel)
{
    public CallInvoker Channel { get; } = channel;

    public RandomizationService.RandomizationServiceClient Randomization => new(Channel);
    public PharmacyService.PharmacyServiceClient Pharmacy => new(Channel);
    public TrialService.TrialServiceClient Trial => new(Channel);
    public ScheduleService.ScheduleServiceClient Schedule => new(Channel);
    public UnblindingService.UnblindingServiceClient Unblinding => new(Channel);
    public AuditService.AuditServiceClient Audit => new(Channel);
    public IdentityService.IdentityServiceClient Identity => new(Channel);
    public AdministrationService.AdministrationServiceClient Administration => new(Channel);
    public DoseEscalationService.DoseEscalationServiceClient DoseEscalation => new(Channel);
    public RehearsalService.RehearsalServiceClient Rehearsal => new(Channel);
    public ParticipantService.ParticipantServiceClient Participants => new(Channel);
    public InventoryService.InventoryServiceClient Inventory => new(Channel);
    public ChainOfCustodyService.ChainOfCustodyServiceClient ChainOfCustody => new(Channel);
    public InfusionService.InfusionServiceClient Infusion => new(Channel);
    public Health.HealthClient Health => new(Channel);
}
