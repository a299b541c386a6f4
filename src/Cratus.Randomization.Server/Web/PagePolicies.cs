using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Web;

/// <summary>
/// Declares the use case a page shows: the page is open to exactly the roles that use case permits
/// (<see cref="PermittedAttribute"/>, the one place a role is checked), so a page and its gRPC call never disagree.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class PageForAttribute : AuthorizeAttribute
{
    public const string Prefix = "use-case:";

    public PageForAttribute(Type useCase)
    {
        UseCase = useCase;
        Policy = Prefix + useCase.FullName;
    }

    public Type UseCase { get; }
}

/// <summary>The policies behind <see cref="PageForAttribute"/>: signed in to the web application, and a role the use case permits.</summary>
public sealed class PagePolicies(IOptions<AuthorizationOptions> options) : DefaultAuthorizationPolicyProvider(options)
{
    public override async Task<AuthorizationPolicy?> GetPolicyAsync(string policyName)
    {
        if (!policyName.StartsWith(PageForAttribute.Prefix, StringComparison.Ordinal)) return await base.GetPolicyAsync(policyName);
        var useCase = typeof(PagePolicies).Assembly.GetType(policyName[PageForAttribute.Prefix.Length..])
            ?? throw new InvalidOperationException($"no use case named {policyName}");
        return new AuthorizationPolicyBuilder(TrialWebApplication.AppScheme).RequireAuthenticatedUser()
            .AddRequirements(new UseCaseRequirement(useCase)).Build();
    }

    public sealed record UseCaseRequirement(Type UseCase) : IAuthorizationRequirement;

    public sealed class Handler(CallerResolver callers) : AuthorizationHandler<UseCaseRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, UseCaseRequirement requirement)
        {
            if (callers.Resolve(context.User) is { } caller && Permissions.Of(requirement.UseCase).Allows(caller.Role)) context.Succeed(requirement);
            return Task.CompletedTask;
        }
    }
}
