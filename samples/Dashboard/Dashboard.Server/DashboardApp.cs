using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.FileProviders;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>Builds the dashboard application (Program.cs runs it; tests start it on a free port).</summary>
public static class DashboardApp
{
    /// <summary>Builds the application.</summary>
    /// <param name="args">Command-line arguments (configuration).</param>
    /// <param name="configure">Changes before the build (tests use it).</param>
    /// <returns>The application, not started.</returns>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, DashboardJson.Default));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PresenceService>();
        builder.Services.AddSingleton<IncidentStore>();
        builder.Services.AddHostedService<MonitorSimulator>();
        builder.Services.AddOriSockets()
            .AddSocketRouters()
            .AddConnectionHandler<PresenceTracker>()
            // A client may join its own account's room, no other.
            .AddRoomRule((socket, room) => room == Topics.Account(socket.GetState<DashboardUser>().AccountId));
        configure?.Invoke(builder);

        var app = builder.Build();
        var page = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot"));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });
        app.MapOriSockets("/ws");
        app.MapDashboardApi();
        return app;
    }
}

/// <summary>Serialization of the HTTP API without reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Incident))]
[JsonSerializable(typeof(Stats))]
internal sealed partial class DashboardJson : JsonSerializerContext;
