using Cratus.Randomization.Domain;
using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Grpc.Core;

namespace Cratus.Randomization.Server.Grpc;

public sealed class AdministrationGrpcService(UserAdministration administration) : AdministrationService.AdministrationServiceBase
{
    public override async Task<CreateUserResponse> CreateUser(CreateUserRequest request, ServerCallContext context)
    {
        if (!TrialRoles.TryParse(request.Role, out var role))
            throw TrialRuleException.Invalid("role",
                $"role must be one of: {string.Join(", ", Enum.GetValues<TrialRole>().Select(TrialRoles.ClaimValue))}.");
        var (user, password) = await administration.CreateUserAsync(AccessInterceptor.CallerOf(context), request.UserName, role, request.Sites, request.Reason, context.CancellationToken);
        return new CreateUserResponse { User = ToProto(user), InitialPassword = password };
    }

    public override async Task<ListUsersResponse> ListUsers(ListUsersRequest request, ServerCallContext context) =>
        new() { Users = { (await administration.ListUsersAsync(context.CancellationToken)).Select(ToProto) } };

    public override async Task<UpdateUserResponse> UpdateUser(UpdateUserRequest request, ServerCallContext context)
    {
        var user = await administration.UpdateUserAsync(AccessInterceptor.CallerOf(context), request.UserName,
            request.HasActive ? request.Active : null, request.ReplaceSites ? request.Sites : null, request.Reason, context.CancellationToken);
        return new UpdateUserResponse { User = ToProto(user) };
    }

    public override async Task<CreateSiteResponse> CreateSite(CreateSiteRequest request, ServerCallContext context) =>
        new() { Site = ToProto(await administration.CreateSiteAsync(AccessInterceptor.CallerOf(context), request.Code, request.Name, request.Reason, context.CancellationToken)) };

    public override async Task<ListSitesResponse> ListSites(ListSitesRequest request, ServerCallContext context) =>
        new() { Sites = { (await administration.ListSitesAsync(context.CancellationToken)).Select(ToProto) } };

    public override async Task<UpdateSiteResponse> UpdateSite(UpdateSiteRequest request, ServerCallContext context) =>
        new() { Site = ToProto(await administration.SetSiteActiveAsync(AccessInterceptor.CallerOf(context), request.Code, request.Active, request.Reason, context.CancellationToken)) };

    private static User ToProto(UserView u) => new()
    {
        UserName = u.UserName,
        Role = TrialRoles.ClaimValue(u.Role),
        Sites = { u.Sites },
        Active = u.Active,
        TotpEnabled = u.SecondFactorEnabled,
        LockedOut = u.LockedOutUntil is not null,
    };

    private static Site ToProto(SiteView s) => new() { Code = s.Code, Name = s.Name, Active = s.Active };
}
