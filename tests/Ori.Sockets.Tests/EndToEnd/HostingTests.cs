using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Tests.EndToEnd;

public sealed class HostingTests
{
    [Fact]
    public async Task MapOriSockets_without_AddOriSockets_names_the_call_to_add()
    {
        var builder = WebApplication.CreateSlimBuilder();
        await using var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.MapOriSockets());
        Assert.Contains("AddOriSockets()", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Ori:Sockets:ReceiveLimit", "4")]
    [InlineData("Ori:Sockets:OutboundBudgetPerConnection", "-1")]
    public async Task Invalid_options_stop_the_host_at_start_with_a_sentence(string key, string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestServer.StartAsync(builder: b => b.Configuration[key] = value));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_are_bound_from_the_Ori_Sockets_section_then_from_code()
    {
        await using var server = await TestServer.StartAsync(
            builder: b =>
            {
                b.Configuration["Ori:Sockets:MaxJsonDepth"] = "7";
                b.Configuration["Ori:Sockets:IdleTimeout"] = "00:00:42";
                b.Configuration["Ori:Sockets:AllowedOrigins:0"] = "https://one.example";
            },
            options: o => o.AllowedOrigins.Add("https://two.example"));
        var options = server.Services.GetRequiredService<IOptions<OriSocketsOptions>>().Value;
        Assert.Equal(7, options.MaxJsonDepth);
        Assert.Equal(TimeSpan.FromSeconds(42), options.IdleTimeout);
        Assert.Equal(["https://one.example", "https://two.example"], options.AllowedOrigins);
    }

    [Fact]
    public async Task RequireAuthorization_applies_to_the_upgrade_request()
    {
        await using var server = await TestServer.StartAsync(
            builder: b =>
            {
                b.Services.AddAuthentication("Query").AddScheme<AuthenticationSchemeOptions, QueryAuthHandler>("Query", null);
                b.Services.AddAuthorization();
            },
            app: a =>
            {
                a.UseAuthentication();
                a.UseAuthorization();
                a.MapOriSockets("/secure").RequireAuthorization();
            });

        using var refused = TestClient.CreateSocket();
        var secure = new Uri($"ws://{server.HttpUri.Authority}/secure");
        await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(secure, TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.HttpStatusCode);

        await using var client = await TestClient.ConnectAsync(new Uri(secure + "?user=ann"));
        await client.ReadyAsync();
    }

    [Fact]
    public async Task Emitter_is_injectable_in_minimal_api_handlers_and_a_domain_emitter_can_wrap_it()
    {
        await using var server = await TestServer.StartAsync(
            sockets: s => s.AddRoomRule((_, room) => room.StartsWith("account:", StringComparison.Ordinal)),
            builder: b => b.Services.AddSingleton<AppSocketEmitter>(),
            app: a => a.MapPost("/notify/{account}", async (string account, AppSocketEmitter emitter) =>
            {
                await emitter.EmitToAccountAsync(account, new Announcement("From HTTP", 2));
                return Results.Accepted();
            }));

        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.RequestAsync("room.join", new { room = "account:acme" });

        using var http = new HttpClient();
        var response = await http.PostAsync(new Uri(server.HttpUri, "/notify/acme"), null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var push = await client.ReceiveJsonAsync();
        Assert.Equal("announcement", push.GetProperty("name").GetString());
        Assert.Equal("From HTTP", push.GetProperty("data").GetProperty("title").GetString());
    }

    [Fact]
    public async Task Logs_never_carry_message_bodies()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.ReadyAsync();
        await client.RequestAsync("echo", new { text = 12 });
        await client.RequestAsync("fail", new { secret = "body-secret-42" });
        await client.SendAsync("""{"type":"bad type","token":"token-secret-43"}""");
        await client.ReceiveJsonAsync();
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("secret-4", StringComparison.Ordinal));
        Assert.Contains(server.Logs.Entries, e => e.Level == LogLevel.Error && e.EventId == 10);
    }

    private sealed class AppSocketEmitter(ISocketEmitter sockets)
    {
        public ValueTask EmitToAccountAsync<T>(string accountId, T message) where T : ISocketMessage<T> =>
            sockets.EmitAsync($"account:{accountId}", message);
    }

    private sealed class QueryAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, System.Text.Encodings.Web.UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var user = Request.Query["user"].ToString();
            if (user.Length == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], "Query");
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), "Query")));
        }
    }
}
