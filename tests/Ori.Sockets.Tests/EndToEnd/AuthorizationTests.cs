using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Tests.Generated;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

/// <summary>[Authorize] on routers, routes and endpoints, evaluated with ASP.NET Core's own authorization against the upgrade's user.</summary>
public sealed class AuthorizationTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async ValueTask InitializeAsync() =>
        _server = await TestServer.StartAsync(
            sockets: s => s.AddSocketRouters(),
            builder: b =>
            {
                b.Services.AddSingleton<OrderBook>();
                b.Services.AddAuthentication("Query").AddScheme<AuthenticationSchemeOptions, QueryAuthentication>("Query", null);
                b.Services.AddAuthorization(o => o.AddPolicy("Gold", p => p.RequireClaim("tier", "gold")));
            },
            mapSockets: false,
            app: a =>
            {
                a.MapOriSockets<ShopSocket>("/ws");
                a.MapOriSockets<MembersSocket>("/members");
            });

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_router_with_authorize_refuses_anonymous_users_per_message_and_keeps_the_connection()
    {
        await using var anonymous = await ConnectAsync("/ws", "shopper=ann");
        Assert.Equal("forbidden", (await anonymous.RequestAsync("account.me", new { }, "m")).GetProperty("error").GetString());
        Assert.Equal("open", (await anonymous.RequestAsync("account.open", new { }, "o")).GetProperty("data").GetString());
        Assert.True((await anonymous.RequestAsync("order.count", new { }, "c")).TryGetProperty("data", out _));
    }

    [Fact]
    public async Task Roles_and_policies_apply_per_route()
    {
        await using var ann = await ConnectAsync("/ws", "shopper=ann&user=ann");
        Assert.Equal("ann", (await ann.RequestAsync("account.me", new { }, "m")).GetProperty("data").GetString());
        Assert.Equal("forbidden", (await ann.RequestAsync("account.audit", new { }, "a")).GetProperty("error").GetString());
        Assert.Equal("forbidden", (await ann.RequestAsync("account.gold", new { }, "g")).GetProperty("error").GetString());

        await using var bob = await ConnectAsync("/ws", "shopper=bob&user=bob&roles=auditor&tier=gold");
        Assert.Equal("audited", (await bob.RequestAsync("account.audit", new { }, "a")).GetProperty("data").GetString());
        Assert.Equal("gold", (await bob.RequestAsync("account.gold", new { }, "g")).GetProperty("data").GetString());
    }

    [Fact]
    public async Task An_endpoint_with_authorize_refuses_the_upgrade_of_anonymous_users()
    {
        using var socket = TestClient.CreateSocket(null);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://{_server.HttpUri.Authority}/members"), TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);

        await using var member = await ConnectAsync("/members", "user=cy");
        Assert.Equal("hello cy", (await member.RequestAsync("members.hello", new { }, "h")).GetProperty("data").GetString());
    }

    private async Task<TestClient> ConnectAsync(string path, string query)
    {
        var client = await TestClient.ConnectAsync(new Uri($"ws://{_server.HttpUri.Authority}{path}?{query}"));
        await client.ReadyAsync();
        return client;
    }

    /// <summary>A user from the query: <c>user</c>, <c>roles</c> (comma separated) and a <c>tier</c> claim.</summary>
    internal sealed class QueryAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var query = Request.Query;
            if (string.IsNullOrEmpty(query["user"]))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var claims = new List<Claim> { new(ClaimTypes.Name, query["user"].ToString()) };
            claims.AddRange(query["roles"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => new Claim(ClaimTypes.Role, r)));
            if (!string.IsNullOrEmpty(query["tier"]))
            {
                claims.Add(new Claim("tier", query["tier"].ToString()));
            }

            var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name));
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name)));
        }
    }
}
