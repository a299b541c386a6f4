using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Application.Administration;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class AdministrationGrpcService(
    CreateUser createUser, ListUsers listUsers, UpdateUser updateUser, CreateSite createSite, ListSites listSites, UpdateSite updateSite)
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
            request.HasActive ? request.Active : null, request.ReplaceSites ? request.Sites : null, request.Reason), context.CancellationToken);
        return new UpdateUserResponse { User = ToProto(user) };
    }

    [Runs(typeof(CreateSite))]
    public override async Task<CreateSiteResponse> CreateSite(CreateSiteRequest request, ServerCallContext context) =>
        new() { Site = ToProto(await createSite.RunAsync(AccessInterceptor.CallerOf(context), new CreateSiteCommand(request.Code, request.Name, request.Reason), context.CancellationToken)) };

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
