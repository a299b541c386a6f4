using System.CommandLine;
using Cratus.Randomization.Protos.V1;

namespace Cratus.Cli;

/// <summary>Users and sites (administrators).</summary>
public static class AdministrationCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session)
    {
        var reason = new Option<string>("--reason") { Description = "Why (required; recorded in the audit trail)", Required = true };

        var users = new Command("users", "Personal accounts: one role each, sites for site roles.");
        var listUsers = new Command("list", "List accounts.");
        listUsers.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).ListUsersAsync(new ListUsersRequest(), cancellationToken: ct);
            s.PrintTable(reply, ["USER", "FULL NAME", "ROLE", "SITES", "ACTIVE", "TOTP", "LOCKED"],
                reply.Users.Select(u => (IReadOnlyList<string>)[u.UserName, u.FullName, u.Role, string.Join(",", u.Sites), u.Active ? "yes" : "no", u.TotpEnabled ? "yes" : "no", u.LockedOut ? "yes" : ""]).ToList());
        });

        var name = new Argument<string>("user-name") { Description = "Personal user name" };
        var role = new Option<string>("--role") { Description = "site_coordinator, investigator, pharmacist, statistician, dsmb_member, monitor, administrator or quality_assurance", Required = true };
        var sites = new Option<string[]>("--site") { Description = "Site served (site roles; repeat for several)", AllowMultipleArgumentsPerToken = true };
        var fullName = new Option<string>("--full-name") { Description = "The person's full name, printed in their electronic signatures", Required = true };
        var createUser = new Command("create", "Create an account; prints a first password to hand to the user.") { name, fullName, role, sites, reason };
        createUser.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).CreateUserAsync(new CreateUserRequest
            {
                UserName = p.GetValue(name)!, FullName = p.GetValue(fullName)!, Role = p.GetValue(role)!, Sites = { p.GetValue(sites) ?? [] }, Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            s.Print(reply, [("User", reply.User.UserName), ("Full name", reply.User.FullName), ("Role", reply.User.Role), ("Sites", string.Join(", ", reply.User.Sites)), ("First password", reply.InitialPassword),
                ("Next", "hand it over in person; at the first sign-in (cratus login, or the web page) the user chooses their own")]);
        });

        var active = new Option<bool?>("--active") { Description = "true to reopen, false to close the account" };
        var newFullName = new Option<string?>("--full-name") { Description = "The person's full name, as printed in their electronic signatures" };
        var updateUser = new Command("update", "Close or reopen an account, replace its sites (--site), or set its full name.") { name, active, sites, newFullName, reason };
        updateUser.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var request = new UpdateUserRequest { UserName = p.GetValue(name)!, Reason = p.GetValue(reason)! };
            if (p.GetValue(active) is { } isActive) request.Active = isActive;
            if (p.GetValue(newFullName) is { } given) request.FullName = given;
            if (p.GetValue(sites) is { Length: > 0 } siteList)
            {
                request.ReplaceSites = true;
                request.Sites.AddRange(siteList);
            }
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).UpdateUserAsync(request, cancellationToken: ct);
            s.Print(reply, [("User", reply.User.UserName), ("Active", reply.User.Active ? "yes" : "no"), ("Sites", string.Join(", ", reply.User.Sites))]);
        });
        users.Subcommands.Add(listUsers);
        users.Subcommands.Add(createUser);
        users.Subcommands.Add(updateUser);

        var sitesCommand = new Command("sites", "The trial's sites.");
        var listSites = new Command("list", "List sites.");
        listSites.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).ListSitesAsync(new ListSitesRequest(), cancellationToken: ct);
            s.PrintTable(reply, ["CODE", "NAME", "OPEN"], reply.Sites.Select(x => (IReadOnlyList<string>)[x.Code, x.Name, x.Active ? "yes" : "no"]).ToList());
        });
        var code = new Argument<string>("code") { Description = "Site code" };
        var siteName = new Option<string>("--name") { Description = "Site name", Required = true };
        var createSite = new Command("create", "Add a site (only before the schedule is in place).") { code, siteName, reason };
        createSite.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).CreateSiteAsync(
                new CreateSiteRequest { Code = p.GetValue(code)!, Name = p.GetValue(siteName)!, Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, [("Site", reply.Site.Code), ("Name", reply.Site.Name)]);
        });
        var open = new Option<bool>("--open") { Description = "true to open to enrolment, false to close", Required = true };
        var updateSite = new Command("update", "Close a site to enrolment, or reopen it.") { code, open, reason };
        updateSite.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).UpdateSiteAsync(
                new UpdateSiteRequest { Code = p.GetValue(code)!, Active = p.GetValue(open), Reason = p.GetValue(reason)! }, cancellationToken: ct);
            s.Print(reply, [("Site", reply.Site.Code), ("Open", reply.Site.Active ? "yes" : "no")]);
        });
        sitesCommand.Subcommands.Add(listSites);
        sitesCommand.Subcommands.Add(createSite);
        sitesCommand.Subcommands.Add(updateSite);
        var systems = new Command("site-systems", "Site systems (EDC, IWRS): OpenID Connect clients with their own credentials, in the site_system role.");
        var listSystems = new Command("list", "List site systems, revoked ones included.");
        listSystems.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).ListSiteSystemsAsync(new ListSiteSystemsRequest(), cancellationToken: ct);
            s.PrintTable(reply, ["CLIENT ID", "NAME", "SITES", "SECRET ISSUED", "REVOKED"],
                reply.SiteSystems.Select(c => (IReadOnlyList<string>)[c.ClientId, c.DisplayName, string.Join(",", c.Sites),
                    c.SecretIssuedAt.ToDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture),
                    c.RevokedAt is null ? "" : c.RevokedAt.ToDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture)]).ToList());
        });
        var clientId = new Argument<string>("client-id") { Description = "The site system's client id, e.g. edc-um" };
        var displayName = new Option<string>("--name") { Description = "What the system is, e.g. \"REDCap at University of Miami\"", Required = true };
        var register = new Command("register", "Register a site system; prints its client secret once.") { clientId, displayName, sites, reason };
        register.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).RegisterSiteSystemAsync(new RegisterSiteSystemRequest
            {
                ClientId = p.GetValue(clientId)!, DisplayName = p.GetValue(displayName)!, Sites = { p.GetValue(sites) ?? [] }, Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            PrintCredentials(s, reply, reply.SiteSystem, reply.ClientSecret);
        });
        var rotate = new Command("rotate-secret", "Give a site system a new secret (printed once); the old one and its tokens stop working.") { clientId, reason };
        rotate.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).RotateSiteSystemSecretAsync(new RotateSiteSystemSecretRequest
            {
                ClientId = p.GetValue(clientId)!, Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            PrintCredentials(s, reply, reply.SiteSystem, reply.ClientSecret);
        });
        var revoke = new Command("revoke", "Revoke a site system for good.") { clientId, reason };
        revoke.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new AdministrationService.AdministrationServiceClient(s.Channel()).RevokeSiteSystemAsync(new RevokeSiteSystemRequest
            {
                ClientId = p.GetValue(clientId)!, Reason = p.GetValue(reason)!,
            }, cancellationToken: ct);
            s.Print(reply, [("Site system", reply.SiteSystem.ClientId), ("Revoked", "yes: its credentials and tokens no longer work")]);
        });
        systems.Subcommands.Add(listSystems);
        systems.Subcommands.Add(register);
        systems.Subcommands.Add(rotate);
        systems.Subcommands.Add(revoke);

        return [users, sitesCommand, systems];
    }

    private static void PrintCredentials(CliSession s, Google.Protobuf.IMessage reply, SiteSystem system, string secret) =>
        s.Print(reply, [("Client id", system.ClientId), ("Sites", string.Join(", ", system.Sites)), ("Client secret", secret),
            ("Next", "give the secret to the site's system administrator over a secure channel; it is not shown again. "
                + "The system signs in with: cratus login --client-id " + system.ClientId + " (secret in CRATUS_CLIENT_SECRET)")]);
}
