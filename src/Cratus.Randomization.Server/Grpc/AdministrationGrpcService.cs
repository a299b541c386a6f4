using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Administration;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class AdministrationGrpcService(
    CreateUser createUser, ListUsers listUsers, UpdateUser updateUser, CreateSite createSite, ListSites listSites, UpdateSite updateSite,
    RegisterSiteSystem registerSiteSystem, RotateSiteSystemSecret rotateSiteSystemSecret, RevokeSiteSystem revokeSiteSystem, ListSiteSystems listSiteSystems)
    : AdministrationService.AdministrationServiceBase
{
    [Runs(typeof(CreateUser))]
    public override async Task<CreateUserResponse> CreateUser(CreateUserRequest request, ServerCallContext context)
    {
        var (user, password) = await createUser.RunAsync(AccessInterceptor.CallerOf(context),
            new CreateUserCommand(request.UserName, request.Role, request.Sites, request.Reason, request.FullName), context.CancellationToken);
        return new CreateUserResponse { User = ToProto(user), InitialPassword = password };
    }

    [Runs(typeof(ListUsers))]
    public override async Task<ListUsersResponse> ListUsers(ListUsersRequest request, ServerCallContext context) =>
        new() { Users = { (await listUsers.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken)).Select(ToProto) } };

    [Runs(typeof(UpdateUser))]
    public override async Task<UpdateUserResponse> UpdateUser(UpdateUserRequest request, ServerCallContext context)
    {
        var user = await updateUser.RunAsync(AccessInterceptor.CallerOf(context), new UpdateUserCommand(request.UserName,
            request.HasActive ? request.Active : null, request.ReplaceSites ? request.Sites : null, request.Reason,
            request.HasFullName ? request.FullName : null), context.CancellationToken);
        return new UpdateUserResponse { User = ToProto(user) };
    }

    [Runs(typeof(CreateSite))]
    public override async Task<CreateSiteResponse> CreateSite(CreateSiteRequest request, ServerCallContext context) =>
        new() { Site = ToProto(await createSite.RunAsync(AccessInterceptor.CallerOf(context), new CreateSiteCommand(request.Code, request.Name, request.Reason), context.CancellationToken)) };

    [Runs(typeof(RegisterSiteSystem))]
    public override async Task<RegisterSiteSystemResponse> RegisterSiteSystem(RegisterSiteSystemRequest request, ServerCallContext context)
    {
        var registered = await registerSiteSystem.RunAsync(AccessInterceptor.CallerOf(context),
            new RegisterSiteSystemCommand(request.ClientId, request.DisplayName, request.Sites, request.Reason), context.CancellationToken);
        return new RegisterSiteSystemResponse { SiteSystem = ToProto(registered.SiteSystem), ClientSecret = registered.ClientSecret };
    }

    [Runs(typeof(RotateSiteSystemSecret))]
    public override async Task<RotateSiteSystemSecretResponse> RotateSiteSystemSecret(RotateSiteSystemSecretRequest request, ServerCallContext context)
    {
        var rotated = await rotateSiteSystemSecret.RunAsync(AccessInterceptor.CallerOf(context),
            new SiteSystemChange(request.ClientId, request.Reason), context.CancellationToken);
        return new RotateSiteSystemSecretResponse { SiteSystem = ToProto(rotated.SiteSystem), ClientSecret = rotated.ClientSecret };
    }

    [Runs(typeof(RevokeSiteSystem))]
    public override async Task<RevokeSiteSystemResponse> RevokeSiteSystem(RevokeSiteSystemRequest request, ServerCallContext context) =>
        new() { SiteSystem = ToProto(await revokeSiteSystem.RunAsync(AccessInterceptor.CallerOf(context), new SiteSystemChange(request.ClientId, request.Reason), context.CancellationToken)) };

    [Runs(typeof(ListSiteSystems))]
    public override async Task<ListSiteSystemsResponse> ListSiteSystems(ListSiteSystemsRequest request, ServerCallContext context) =>
        new() { SiteSystems = { (await listSiteSystems.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken)).Select(ToProto) } };

    private static Protos.V1.SiteSystem ToProto(SiteSystemView s) => new()
    {
        ClientId = s.ClientId,
        DisplayName = s.DisplayName,
        Sites = { s.Sites },
        RegisteredAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(s.RegisteredAt),
        RegisteredBy = s.RegisteredBy,
        SecretIssuedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(s.SecretIssuedAt),
        RevokedAt = s.RevokedAt.ToProto(),
        RevokedBy = s.RevokedBy ?? "",
    };

    [Runs(typeof(ListSites))]
    public override async Task<ListSitesResponse> ListSites(ListSitesRequest request, ServerCallContext context) =>
        new() { Sites = { (await listSites.RunAsync(AccessInterceptor.CallerOf(context), default, context.CancellationToken)).Select(ToProto) } };

    [Runs(typeof(UpdateSite))]
    public override async Task<UpdateSiteResponse> UpdateSite(UpdateSiteRequest request, ServerCallContext context) =>
        new() { Site = ToProto(await updateSite.RunAsync(AccessInterceptor.CallerOf(context), new UpdateSiteCommand(request.Code, request.Active, request.Reason), context.CancellationToken)) };

    private static User ToProto(UserView u) => new()
    {
        UserName = u.UserName,
        FullName = u.FullName,
        Role = TrialRoles.ClaimValue(u.Role),
        Sites = { u.Sites },
        Active = u.Active,
        TotpEnabled = u.SecondFactorEnabled,
        LockedOut = u.LockedOutUntil is not null,
    };

    private static Site ToProto(SiteView s) => new() { Code = s.Code, Name = s.Name, Active = s.Active };
}
