using Cratus.Randomization.Protos.V1;

namespace Cratus.Randomization.Server.Security;

/// <summary>
/// The one table that says which role may call which RPC. A method missing from it is refused for everyone, and a
/// test walks every method of every service against it, so a new RPC cannot ship without a decision here.
/// Object-level rules (a site's own participants only) are applied where the object is read.
/// </summary>
public static class RpcPermissions
{
    private static readonly TrialRole[] SiteRoles = [TrialRole.SiteCoordinator, TrialRole.Investigator];
    private static readonly TrialRole[] EveryRole = Enum.GetValues<TrialRole>();

    /// <summary>Methods anyone may call without a token.</summary>
    public static readonly IReadOnlySet<string> Anonymous = new HashSet<string>(StringComparer.Ordinal)
    {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        Method(IdentityService.Descriptor, "Login"),
        Method(IdentityService.Descriptor, "RefreshToken"),
        Method(IdentityService.Descriptor, "BootstrapAdministrator"),
    };

    public static readonly IReadOnlyDictionary<string, IReadOnlySet<TrialRole>> Table = new Dictionary<string, TrialRole[]>(StringComparer.Ordinal)
    {
        [Method(RandomizationService.Descriptor, "Randomize")] = SiteRoles,
        [Method(RandomizationService.Descriptor, "GetAssignment")] =
            [.. SiteRoles, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.Monitor],
        [Method(PharmacyService.Descriptor, "GetDoseOrder")] = [TrialRole.Pharmacist],
        [Method(TrialService.Descriptor, "GetTrial")] = EveryRole,
        [Method(TrialService.Descriptor, "GetScheduleCommitment")] = EveryRole,
        [Method(ScheduleService.Descriptor, "GenerateSchedule")] = [TrialRole.Statistician],
        [Method(ScheduleService.Descriptor, "ImportSchedule")] = [TrialRole.Statistician],
        [Method(DoseEscalationService.Descriptor, "EnrollInCohort")] = SiteRoles,
        [Method(DoseEscalationService.Descriptor, "RecordInfusion")] = [.. SiteRoles, TrialRole.Pharmacist],
        [Method(DoseEscalationService.Descriptor, "ReportSafetyEvent")] = SiteRoles,
        [Method(DoseEscalationService.Descriptor, "RecordWithdrawal")] = SiteRoles,
        [Method(DoseEscalationService.Descriptor, "RecordDsmbDecision")] = [TrialRole.DsmbMember],
        [Method(DoseEscalationService.Descriptor, "GetEscalationStatus")] = EveryRole,
        [Method(UnblindingService.Descriptor, "EmergencyUnblind")] = [TrialRole.Investigator],
        [Method(UnblindingService.Descriptor, "RequestUnblinding")] = [TrialRole.Statistician],
        [Method(UnblindingService.Descriptor, "ApproveUnblinding")] = [TrialRole.Statistician],
        [Method(UnblindingService.Descriptor, "ListUnblindingRequests")] = [TrialRole.Statistician, TrialRole.DsmbMember],
        [Method(UnblindingService.Descriptor, "GetUnblindedAllocations")] = [TrialRole.Statistician, TrialRole.DsmbMember],
        [Method(AuditService.Descriptor, "ListAuditEvents")] = [TrialRole.Monitor, TrialRole.Statistician],
        [Method(AuditService.Descriptor, "VerifyAuditTrail")] = [TrialRole.Monitor, TrialRole.Statistician],
        [Method(AuditService.Descriptor, "VerifyAllocations")] = [TrialRole.Monitor, TrialRole.Statistician],
        [Method(IdentityService.Descriptor, "BeginTotpEnrollment")] = EveryRole,
        [Method(IdentityService.Descriptor, "ConfirmTotpEnrollment")] = EveryRole,
        [Method(IdentityService.Descriptor, "ChangePassword")] = EveryRole,
        [Method(AdministrationService.Descriptor, "CreateUser")] = [TrialRole.Administrator],
        [Method(AdministrationService.Descriptor, "ListUsers")] = [TrialRole.Administrator],
        [Method(AdministrationService.Descriptor, "UpdateUser")] = [TrialRole.Administrator],
        [Method(AdministrationService.Descriptor, "CreateSite")] = [TrialRole.Administrator],
        [Method(AdministrationService.Descriptor, "ListSites")] = [TrialRole.Administrator],
        [Method(AdministrationService.Descriptor, "UpdateSite")] = [TrialRole.Administrator],
        // Server reflection describes the API only; any signed-in user may use it.
        ["/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"] = EveryRole,
        ["/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"] = EveryRole,
    }.ToDictionary(kv => kv.Key, kv => (IReadOnlySet<TrialRole>)kv.Value.ToHashSet(), StringComparer.Ordinal);

    public static bool Allows(string method, TrialRole role) => Table.TryGetValue(method, out var roles) && roles.Contains(role);

    public static string Method(Google.Protobuf.Reflection.ServiceDescriptor service, string name) =>
        "/" + service.FullName + "/" + service.FindMethodByName(name).Name;
}
